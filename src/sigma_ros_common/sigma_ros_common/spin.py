"""One entry point for every executable: init, build the nodes, spin, clean up.

- A start refusal (ConfigError or any ValueError from building the nodes) prints ``<name>: refusing to start:
  <why>`` and returns exit code 2, so a launch file or a test sees the cause.
- Ctrl-C / external shutdown returns 0, also during start-up. An exception while the context goes down (Ctrl-C racing
  a callback or a publish) is a clean shutdown; any other exception propagates, unless ``fail_safe`` is set (safety
  nodes must outlive a bug in one callback: it is logged, throttled, and spinning goes on).
- ``executor_for`` chooses the executor for the built nodes (default: SingleThreadedExecutor; ``events_executor``
  for rclpy's EventsExecutor); ``on_start`` runs once they are added, before the first spin.
- ``step_for`` (optional) returns, for the built nodes, a function run after every executor turn (then the executor
  does not wait), e.g. an unpaced simulator's physics; or None to spin normally.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

NodesHook = Callable[[Sequence[Node]], None]


def events_executor() -> Executor:
    """rclpy's EventsExecutor (C++ event queue, far less per-callback overhead) where available.

    ``SIGMA_EXECUTOR=single`` (or the older ``SIGMA_SAFETY_EXECUTOR=single``) chooses the SingleThreadedExecutor.
    """
    choice = os.environ.get("SIGMA_EXECUTOR", os.environ.get("SIGMA_SAFETY_EXECUTOR", "events"))
    if choice == "events":
        try:
            from rclpy.experimental import EventsExecutor

            return EventsExecutor()
        except ImportError:
            pass
    return SingleThreadedExecutor()


def shutting_down(grace: float = 0.2) -> bool:
    """True when the context is, or within ``grace`` seconds goes, down (an error that raced a Ctrl-C)."""
    deadline = time.monotonic() + grace
    while rclpy.ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run(name: str, make: Callable[[], Sequence[Node]], args: list[str] | None = None, *,
        executor_for: Callable[[Sequence[Node]], Executor] | None = None,
        step_for: Callable[[Sequence[Node]], Callable[[], None] | None] | None = None,
        on_start: NodesHook | None = None, fail_safe: bool = False, on_exit: NodesHook | None = None) -> int:
    """Run the nodes ``make()`` builds until shutdown; returns the process exit code (0, or 2 on a refusal)."""
    rclpy.init(args=args)
    nodes: list[Node] = []
    ex: Executor | None = None
    try:
        try:
            nodes = list(make())
        except ValueError as exc:  # ConfigError is a ValueError
            print(f"{name}: refusing to start: {exc}", file=sys.stderr, flush=True)
            return 2
        ex = executor_for(nodes) if executor_for is not None else SingleThreadedExecutor()
        for node in nodes:
            ex.add_node(node)
        if on_start is not None:
            on_start(nodes)
        step = step_for(nodes) if step_for is not None else None
        timeout = 0.0 if step is not None else 0.1
        while rclpy.ok():
            try:
                ex.spin_once(timeout_sec=timeout)
                if step is not None:
                    step()
            except (KeyboardInterrupt, ExternalShutdownException):
                raise
            except Exception as exc:
                if shutting_down():
                    break  # the context went down mid-callback: a clean shutdown
                if not fail_safe:
                    raise
                nodes[0].get_logger().error(f"callback failed, continuing: {exc!r}", throttle_duration_sec=1.0)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C, also during start-up: a clean exit
    finally:
        if on_exit is not None:
            on_exit(nodes)
        if ex is not None:
            ex.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
