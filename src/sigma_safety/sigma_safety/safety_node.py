"""Executables: ``safety_node`` (supervisor and gate in one process, the state handed over in memory),
``supervisor_node`` and ``gate_node`` (split deployment; the gate then follows ``safety/status`` from its verified
supervisor only). Once configured, the process asks for real-time scheduling and locked memory (``realtime``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node

from sigma_ros_common import realtime
from sigma_ros_common.spin import events_executor, run
from sigma_safety.gate_node import GateNode
from sigma_safety.settings import ProcessSettings, gate_settings, process_settings, supervisor_settings
from sigma_safety.supervisor_node import DRIVER_TOPICS, SupervisorNode


def _run(make: list[type[Node]], args: list[str] | None) -> int:
    def build() -> list[Node]:
        nodes: list[Node] = []
        try:
            for cls in make:
                if cls is SupervisorNode:
                    nodes.append(SupervisorNode(supervisor_settings, watch_commands=GateNode not in make))
                else:
                    alone = SupervisorNode not in make
                    nodes.append(GateNode(gate_settings, follow_status=alone, measure_joints=alone))
            process = process_settings(nodes[0])
        except ValueError:
            for n in nodes:
                n.destroy_node()
            raise
        supervisor = next((n for n in nodes if isinstance(n, SupervisorNode)), None)
        gate = next((n for n in nodes if isinstance(n, GateNode)), None)
        if supervisor is not None and gate is not None:
            _compose(supervisor, gate)
        settings.append(process)
        return nodes

    def executor_for(nodes: Sequence[Node]) -> Executor:
        # The standalone gate reads each status message's publisher GID, which the EventsExecutor does not pass on.
        if any(isinstance(n, SupervisorNode) for n in nodes):
            return events_executor()
        return SingleThreadedExecutor()

    def start(nodes: Sequence[Node]) -> None:
        for warning in realtime.apply(settings[0].realtime_priority, settings[0].lock_memory):
            nodes[0].get_logger().warning(f"{warning}: running without it")
        nodes[0].get_logger().info(f"process scheduling: {realtime.describe()}")
        preemption = realtime.kernel_preemption()
        if settings[0].realtime_priority > 0 and not preemption.startswith(("rt", "full", "lazy")):
            nodes[0].get_logger().warning(
                f"kernel preemption model: {preemption}: a real-time thread can wait for other tasks' kernel code "
                "(milliseconds under load); run the safety computer on a PREEMPT_RT kernel")

    settings: list[ProcessSettings] = []
    return run("sigma_safety", build, args, executor_for=executor_for, on_start=start, fail_safe=True)


def _compose(supervisor: SupervisorNode, gate: GateNode) -> None:
    """One process: the supervisor hands every state and measured posture to the gate in memory, the gate its
    targets back."""
    supervisor.allowed_publishers.update(dict.fromkeys(DRIVER_TOPICS, gate.get_fully_qualified_name()))
    supervisor.state_listeners.append(gate.apply_state)
    supervisor.joint_listeners.append(gate.gate.set_measured)
    gate.command_listeners.append(lambda targets: supervisor.policy.update_command(targets, supervisor._now()))
    gate.foreign_listeners.append(supervisor.report_foreign_command)
    if supervisor.policy.state.sequence:
        gate.apply_state(supervisor.policy.state)


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
