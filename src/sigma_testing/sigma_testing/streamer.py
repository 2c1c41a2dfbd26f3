"""A background caller for tests: a publisher streaming at a fixed rate (an AI's commands, a policy reporting)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Streamer:
    """Calls ``fn()`` at ``rate`` Hz on a thread until stopped."""

    def __init__(self, fn: Callable[[], object], rate: float) -> None:
        self._fn, self._period = fn, 1.0 / rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._fn()
            except Exception:  # noqa: BLE001 - the probe's context is shutting down
                return

    def stop(self) -> float:
        """Stop calling; returns the monotonic time it stopped."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        return time.monotonic()
