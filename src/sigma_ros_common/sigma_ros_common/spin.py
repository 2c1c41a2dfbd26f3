"""One entry point for every executable: init, build the nodes, spin, clean up.

- A start refusal (ConfigError or any ValueError from building the nodes) prints ``<name>: refusing to start:
  <why>`` and returns exit code 2, so a launch file or a test sees the cause.
- Ctrl-C / external shutdown returns 0. An exception while the context is already invalid (Ctrl-C racing a
  publish) is a clean shutdown; any other exception propagates, unless ``fail_safe`` is set (safety nodes must
  outlive a bug in one callback: it is logged, throttled, and spinning goes on).
- ``step_for`` (optional) returns, for the built nodes, a function run after every executor turn (then the executor
  does not wait), e.g. an unpaced simulator's physics; or None to spin normally.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


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


def run(name: str, make: Callable[[], Sequence[Node]], args: list[str] | None = None, *,
        executor: Callable[[], Executor] = SingleThreadedExecutor,
        step_for: Callable[[Sequence[Node]], Callable[[], None] | None] | None = None,
        fail_safe: bool = False, on_exit: Callable[[Sequence[Node]], None] | None = None) -> int:
    """Run the nodes ``make()`` builds until shutdown; returns the process exit code (0, or 2 on a refusal)."""
    rclpy.init(args=args)
    nodes: list[Node] = []
    try:
        nodes = list(make())
    except ValueError as exc:  # ConfigError is a ValueError
        print(f"{name}: refusing to start: {exc}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    ex = executor()
    for node in nodes:
        ex.add_node(node)
    step = step_for(nodes) if step_for is not None else None
    timeout = 0.0 if step is not None else 0.1
    try:
        while rclpy.ok():
            try:
                ex.spin_once(timeout_sec=timeout)
                if step is not None:
                    step()
            except (KeyboardInterrupt, ExternalShutdownException):
                raise
            except Exception as exc:
                if not rclpy.ok():
                    break  # Ctrl-C invalidated the context mid-callback: a clean shutdown
                if not fail_safe:
                    raise
                nodes[0].get_logger().error(f"callback failed, continuing: {exc!r}", throttle_duration_sec=1.0)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if on_exit is not None:
            on_exit(nodes)
        ex.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
