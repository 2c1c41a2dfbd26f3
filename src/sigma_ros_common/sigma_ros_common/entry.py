"""Console-script entry points that load their node's module only when called.

A generated console script imports its target module before any of our code runs, so a Ctrl-C (a launch's SIGINT)
that arrives while rclpy, numpy or scipy still load — seconds on a loaded host — printed a ``KeyboardInterrupt``
traceback (the CI's launch test, ``fleet_tasks`` in ``scipy.optimize``). ``lazy("pkg.module:main")`` is a light
callable for ``setup.py``: it imports the module inside a guard (a Ctrl-C there is a clean exit, code 0, as during
the rest of start-up in :func:`sigma_ros_common.spin.run`) and then calls ``main``.

Pure: no rclpy import here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

Main = Callable[[list[str] | None], int | None]


def load(target: str) -> Main:
    """The callable ``target`` names (``"package.module:function"``); raises ValueError for a malformed target."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"entry point {target!r}: expected 'package.module:function'")
    return getattr(importlib.import_module(module), attr)


def lazy(target: str) -> Callable[..., int]:
    """An entry point that imports ``target`` on call; a Ctrl-C during that import returns 0 without a traceback."""

    def main(args: list[str] | None = None) -> int:
        try:
            real = load(target)
        except KeyboardInterrupt:
            return 0
        code = real(args)
        return 0 if code is None else int(code)

    main.__doc__ = f"Run {target} (imported on call; a Ctrl-C while it loads is a clean exit)."
    return main
