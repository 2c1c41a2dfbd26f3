"""LISTEN/NOTIFY fan-out: long-polling device requests wait on a per-robot event instead of polling the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import psycopg

log = logging.getLogger("sigma_cloud.notifier")
CHANNEL = "sigma_decisions"


class DecisionNotifier:
    """One listening connection per process; reconnects after database restarts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._wake_all()  # anything addressed while we were disconnected
                    async for note in conn.notifies():
                        for event in self.waiters.get(note.payload, ()):
                            event.set()
            except psycopg.OperationalError as exc:
                log.warning("decision listener lost its connection (%s); reconnecting", exc)
                self._wake_all()
                await asyncio.sleep(0.5)

    def _wake_all(self) -> None:
        for events in self.waiters.values():
            for event in events:
                event.set()

    @contextlib.contextmanager
    def listening(self, robot_id: str) -> Iterator[asyncio.Event]:
        """Register interest in robot_id *before* reading the database, so a NOTIFY between the read and the wait
        is never lost; the event is set by every notification for robot_id while the block runs."""
        event = asyncio.Event()
        self.waiters.setdefault(robot_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self.waiters.get(robot_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self.waiters[robot_id]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for event up to timeout seconds; True when it was set, and clear it for the next wait."""
    try:
        await asyncio.wait_for(event.wait(), max(timeout, 0.0))
    except TimeoutError:
        return False
    event.clear()
    return True
