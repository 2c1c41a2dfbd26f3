"""LISTEN/NOTIFY fan-out for the device routes, one listening connection per API process.

- sigma_decisions (migration 0003): wakes the robot's long-polls, and keeps the set of robots that may have a pending
  decision, so an idle long-poll reads nothing from the database (migration 0072).
- sigma_robot_keys (migration 0072): a robot's key, status or site changed; the device-key cache drops its entry.

While the listener is not connected (start-up, database restart) nothing is trusted: every long-poll reads the
database and cached keys expire after key_cache_ttl_s, as before (docs/cloud.md "Fleet scale").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import psycopg

log = logging.getLogger("sigma_cloud.notifier")
CHANNEL = "sigma_decisions"
KEYS_CHANNEL = "sigma_robot_keys"
PENDING_SQL = "SELECT * FROM device_pending_robots()"


class DecisionNotifier:
    """One listening connection per process; reconnects after database restarts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task | None = None
        # Robots that may have a pending decision: loaded when the listener connects, grown by every NOTIFY, shrunk
        # when a read finds nothing and no NOTIFY for the robot came during that read (`_notes` per robot).
        self.pending: set[str] = set()
        self._notes: dict[str, int] = {}
        self._serial = 0
        self.connected = False  # listening and `pending` loaded: the set and key invalidations can be trusted
        self.epoch = 0  # changes whenever `connected` does (the key cache keeps entries read within one epoch)
        self.key_changes = 0  # sigma_robot_keys notifications seen (a read racing one is not kept long)
        self.on_key_change: list[Callable[[str | None], None]] = []  # robot id, or None for "all"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set_connected(False)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {KEYS_CHANNEL}")
                    self.pending = set()
                    consumer = asyncio.create_task(self._consume(conn), name="decision-notifier-consume")
                    try:
                        # Read after LISTEN: a decision committed meanwhile is in the snapshot or notified (or both).
                        self.pending |= await self._load_pending()
                        self._set_connected(True)
                        self._wake_all()  # anything addressed while we were disconnected
                        await consumer
                    finally:
                        consumer.cancel()
                        with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                            await consumer
            except psycopg.Error as exc:  # a restart, or anything else: the routes fall back to reading until back
                log.warning("decision listener lost its connection (%s); reconnecting", exc)
            self._set_connected(False)
            self._wake_all()
            await asyncio.sleep(0.5)

    async def _consume(self, conn: psycopg.AsyncConnection) -> None:
        async for note in conn.notifies():
            self._dispatch(note)

    async def _load_pending(self) -> set[str]:
        async with await psycopg.AsyncConnection.connect(self.url) as conn, conn.transaction():
            await conn.execute("SELECT set_config('role', 'sigma_device', true)")
            return {row[0] for row in await (await conn.execute(PENDING_SQL)).fetchall()}

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.epoch += 1
            self._keys_changed(None)  # what changed while nobody listened is unknown: forget every cached key

    def _dispatch(self, note: psycopg.Notify) -> None:
        if note.channel == KEYS_CHANNEL:
            self._keys_changed(note.payload)
            return
        self.pending.add(note.payload)
        self._serial += 1  # unique per notification: a token taken before it can never match after it
        self._notes[note.payload] = self._serial
        for event in self.waiters.get(note.payload, ()):
            event.set()

    def _keys_changed(self, robot_id: str | None) -> None:
        self.key_changes += 1
        for callback in self.on_key_change:
            callback(robot_id)

    def _wake_all(self) -> None:
        for events in self.waiters.values():
            for event in events:
                event.set()

    def may_have_pending(self, robot_id: str) -> bool:
        """False only when the listener is up and no decision for robot_id was notified since a read found none."""
        return not self.connected or robot_id in self.pending

    def notes(self, robot_id: str) -> tuple[int, int]:
        """A token to take before reading robot_id's decisions and hand to `settled` after (see there)."""
        return self.epoch, self._notes.get(robot_id, 0)

    def settled(self, robot_id: str, token: tuple[int, int]) -> None:
        """A read that began at `token` found nothing pending: forget robot_id unless a NOTIFY came meanwhile."""
        if self.notes(robot_id) == token and self.connected:
            self.pending.discard(robot_id)
            self._notes.pop(robot_id, None)

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
