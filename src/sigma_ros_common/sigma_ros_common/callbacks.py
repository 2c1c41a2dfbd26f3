"""Callbacks that stay quiet while the process shuts down.

Ctrl-C invalidates the ROS context while a timer or subscription callback may still run; its next ``publish`` then
raises ("publisher's context is invalid"), or the KeyboardInterrupt itself lands inside the callback, and rclpy's
EventsExecutor logs either as FATAL. During shutdown that is not an error, so it is swallowed (rclpy's signal handler
has already shut the context down, so the spin loop ends); any other exception while the context is valid propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.context import Context


def quiet_on_shutdown(context: Context, fn: Callable[..., Any], *, service: bool = False) -> Callable[..., Any]:
    """``fn`` with exceptions swallowed once ``context`` has been shut down (a service callback then answers its
    untouched response object, ``service=True``)."""

    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except KeyboardInterrupt:  # Ctrl-C landed inside the callback; rclpy's handler shuts the context down
            return args[-1] if service else None
        except Exception:
            if context.ok():
                raise
            return args[-1] if service else None

    return wrapped


def quiet_timer(context: Context, fn: Callable[[], None]) -> Callable[[], None]:
    """A timer callback silent during shutdown (no parameter: rclpy would otherwise pass a ``TimerInfo``)."""
    quiet = quiet_on_shutdown(context, fn)

    def tick() -> None:
        quiet()

    return tick
