"""Executables: ``safety_node`` (supervisor and gate in one process, the state handed over in memory),
``supervisor_node`` and ``gate_node`` (split deployment; the gate then follows ``safety/status`` from its verified
supervisor only). Once configured, the process asks for real-time scheduling and locked memory (``realtime``)."""

from __future__ import annotations

import os
import sys
import time

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from sigma_safety import realtime
from sigma_safety.core.params import ConfigError
from sigma_safety.gate_node import GateNode
from sigma_safety.settings import gate_settings, process_settings, supervisor_settings
from sigma_safety.supervisor_node import SupervisorNode


def _run(make: list[type[Node]], args: list[str] | None) -> int:
    rclpy.init(args=args)
    nodes: list[Node] = []
    executor: Executor | None = None
    try:
        try:
            for cls in make:
                if cls is SupervisorNode:
                    nodes.append(SupervisorNode(supervisor_settings))
                else:
                    nodes.append(GateNode(gate_settings, follow_status=SupervisorNode not in make))
            process = process_settings(nodes[0])
        except ConfigError as exc:
            print(f"sigma_safety: refusing to start: {exc}", file=sys.stderr, flush=True)
            return 2
        supervisor = next((n for n in nodes if isinstance(n, SupervisorNode)), None)
        gate = next((n for n in nodes if isinstance(n, GateNode)), None)
        if supervisor is not None and gate is not None:
            _compose(supervisor, gate)
        # The standalone gate reads each status message's publisher GID, which the EventsExecutor does not pass on.
        executor = _executor(events=supervisor is not None)
        for n in nodes:
            executor.add_node(n)
        for warning in realtime.apply(process.realtime_priority, process.lock_memory):
            nodes[0].get_logger().warning(f"{warning}: running without it")
        nodes[0].get_logger().info(f"process scheduling: {realtime.describe()}")
        _spin(executor, nodes[0])
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C, also during start-up: a clean exit
    finally:
        if executor is not None:
            executor.shutdown()
        for n in nodes:
            n.destroy_node()
        rclpy.try_shutdown()
    return 0


def _compose(supervisor: SupervisorNode, gate: GateNode) -> None:
    """One process: the supervisor hands every state to the gate in memory, the gate its targets back."""
    supervisor.allowed_publishers.update(dict.fromkeys(
        ("driver/joint_command", "driver/cmd_vel", "driver/brake"), gate.get_fully_qualified_name()))
    supervisor.state_listeners.append(gate.apply_state)
    gate.command_listeners.append(lambda targets: supervisor.policy.update_command(targets, supervisor._now()))
    gate.foreign_listeners.append(supervisor.report_foreign_command)
    if supervisor.policy.state.sequence:
        gate.apply_state(supervisor.policy.state)


def _executor(events: bool = True) -> Executor:
    """rclpy's EventsExecutor (C++ event queue, far less per-callback overhead) where available and wanted."""
    if events and os.environ.get("SIGMA_SAFETY_EXECUTOR", "events") == "events":
        try:
            from rclpy.experimental import EventsExecutor

            return EventsExecutor()
        except ImportError:
            pass
    return SingleThreadedExecutor()


def _spin(executor: Executor, node: Node) -> None:
    """Spin; an unexpected error in one callback is logged and the node keeps running (callbacks fail safe)."""
    while rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception as exc:  # noqa: BLE001 - a safety node must outlive a bug in one callback
            if _shutting_down():
                return  # Ctrl-C: the executor fails while the context goes down; not an error
            node.get_logger().error(f"callback failed, continuing: {exc!r}", throttle_duration_sec=1.0)


def _shutting_down(grace: float = 0.2) -> bool:
    """True when the context is, or within ``grace`` seconds goes, down: an executor error raced a Ctrl-C."""
    deadline = time.monotonic() + grace
    while rclpy.ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def main(args: list[str] | None = None) -> int:
    """Supervisor and gate in one process."""
    return _run([SupervisorNode, GateNode], args)


def supervisor_main(args: list[str] | None = None) -> int:
    """Supervisor only."""
    return _run([SupervisorNode], args)


def gate_main(args: list[str] | None = None) -> int:
    """Gate only (follows safety/status)."""
    return _run([GateNode], args)


if __name__ == "__main__":
    sys.exit(main())
