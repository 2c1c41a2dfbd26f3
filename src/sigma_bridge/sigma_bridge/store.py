"""Durable, bounded store-and-forward queue for uplink events (SQLite in WAL mode).

Durability policy: ``journal_mode=WAL`` with ``synchronous=FULL`` by default, so every committed batch is
fsync'd to the write-ahead log before :meth:`EventStore.put_many` returns. An event counts as enqueued only
after that commit, and leaves the store only when :meth:`EventStore.ack` is called for it (the cloud
acknowledged it). ``synchronous=NORMAL`` survives a process crash (``kill -9``) but not a power loss.

Drop policy when the store holds more than ``capacity`` events: the oldest *routine* events go first;
safety events are never dropped (the store may then exceed its capacity by the safety events alone).
Every drop is counted per channel in the same transaction, so the counters are exact across crashes.

Dead letters: events the cloud refuses for good (422 per event, or a whole batch it cannot read: 400) are moved, in
one transaction, to the ``dead_letter`` table with the reason, counted per channel as ``rejected``, and kept
(newest DEAD_LETTER_CAPACITY) for inspection, so one bad event never blocks the queue behind it.

Batch order (:meth:`take_batch`): all pending safety events first, then live routine events (enqueued within
``live_window`` seconds of ``now``), then backlog routine events at most ``backlog_rate`` events/s (a token
bucket on the time passed in), so after an outage the backlog drains at a bounded rate while live data flows.

Wire sequence numbers (device protocol v1: the cloud acknowledges a high-water mark, so a robot must send in
increasing seq order with one batch in flight) are assigned when an event first goes into a batch, in batch
order, and persisted in the same transaction. Until acknowledged, that batch is returned again unchanged (same
seqs) by every :meth:`take_batch`, also after a restart, so a resend is counted by the cloud as duplicates and
nothing is lost or stored twice. A fresh store starts its wire seqs at the UNIX time in microseconds, so a robot
whose store was wiped still sends seqs above everything it sent before. No clock of its own: time is passed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PRIORITY_SAFETY = 0
PRIORITY_ROUTINE = 1
SYNCHRONOUS_POLICIES = ("OFF", "NORMAL", "FULL", "EXTRA")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    wire_seq INTEGER,
    ts REAL NOT NULL,
    channel TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_priority_created ON events (priority, created, seq);
CREATE INDEX IF NOT EXISTS events_wire_seq ON events (wire_seq) WHERE wire_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (name, channel)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wire_seq INTEGER,
    ts REAL NOT NULL,
    channel TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created REAL NOT NULL,
    payload BLOB NOT NULL,
    refused_at REAL NOT NULL,
    reason TEXT NOT NULL
);
"""
DEAD_LETTER_CAPACITY = 10_000  # oldest dead letters beyond this are deleted (counted as dropped)


@dataclass(frozen=True)
class NewEvent:
    """An event to enqueue: its channel, sample time ``ts`` [UNIX s], serialized payload (opaque), priority."""

    channel: str
    ts: float
    payload: bytes
    priority: int = PRIORITY_ROUTINE
    source_key: tuple[int, int] | None = None  # safety events: (header stamp [ns], sequence), for de-duplication


@dataclass(frozen=True)
class StoredEvent:
    """An event in a batch: local ``seq``, the ``wire_seq`` it is sent under, and its data."""

    seq: int
    wire_seq: int
    ts: float
    channel: str
    priority: int
    created: float
    payload: bytes


@dataclass
class StoreStats:
    """Exact, persisted counters per channel, plus the current backlog."""

    enqueued: dict[str, int] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    pending_safety: int = 0
    dead_letter: int = 0  # events the cloud refused for good, kept aside for inspection (see dead_letters())


class EventStore:
    """A bounded durable queue of uplink events. Not thread-safe: guard it with one lock."""

    def __init__(
        self,
        path: str | Path,
        *,
        capacity: int,
        synchronous: str = "FULL",
        live_window: float = 2.0,
        backlog_rate: float = 2000.0,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"store capacity must be >= 1, got {capacity}")
        if synchronous.upper() not in SYNCHRONOUS_POLICIES:
            raise ValueError(f"synchronous policy {synchronous!r} is not one of {SYNCHRONOUS_POLICIES}")
        if live_window < 0 or backlog_rate <= 0:
            raise ValueError(f"live_window must be >= 0 and backlog_rate > 0, got {live_window}, {backlog_rate}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self.live_window = live_window
        self.backlog_rate = backlog_rate
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(_SCHEMA)
        self._size = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        self._tokens = 0.0
        # True when the last take_batch planned new wire seqs; False when it returned the unacknowledged batch
        # (which may have reached the cloud in an earlier attempt, possibly before a restart).
        self.last_batch_fresh = False
        self._token_time: float | None = None

    @property
    def synchronous(self) -> str:
        """The SQLite synchronous level in force (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA)."""
        return ("OFF", "NORMAL", "FULL", "EXTRA")[self._db.execute("PRAGMA synchronous").fetchone()[0]]

    def __len__(self) -> int:
        return self._size

    def put_many(self, events: Sequence[NewEvent], now: float, dropped_before: dict[str, int] | None = None) -> dict:
        """Durably enqueue ``events`` in one transaction; return the routine events dropped, per channel.

        ``dropped_before`` adds drops that happened upstream (e.g. a full hand-off buffer) to the counters.
        """
        enq: dict[str, int] = {}
        for e in events:
            if e.priority not in (PRIORITY_SAFETY, PRIORITY_ROUTINE):
                raise ValueError(f"event on channel {e.channel!r} has unknown priority {e.priority}")
            enq[e.channel] = enq.get(e.channel, 0) + 1
        dropped: dict[str, int] = {}
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany(
                "INSERT INTO events (ts, channel, priority, created, payload) VALUES (?, ?, ?, ?, ?)",
                [(e.ts, e.channel, e.priority, now, e.payload) for e in events],
            )
            size = self._size + len(events)
            excess = size - self.capacity
            if excess > 0:
                rows = cur.execute(
                    "SELECT seq, channel FROM events WHERE priority=? AND wire_seq IS NULL ORDER BY seq LIMIT ?",
                    (PRIORITY_ROUTINE, excess),
                ).fetchall()
                cur.executemany("DELETE FROM events WHERE seq=?", [(r[0],) for r in rows])
                for _, ch in rows:
                    dropped[ch] = dropped.get(ch, 0) + 1
                size -= len(rows)
            self._bump(cur, "enqueued", enq)
            keys = [e.source_key for e in events if e.source_key is not None]
            if keys:
                newest = max([*keys, self.last_safety_key()])
                cur.execute("INSERT INTO meta VALUES ('last_safety_key', ?) ON CONFLICT(key) DO UPDATE SET "
                            "value=excluded.value", (f"{newest[0]}:{newest[1]}",))
            total_dropped = dict(dropped)
            for ch, n in (dropped_before or {}).items():
                total_dropped[ch] = total_dropped.get(ch, 0) + n
            self._bump(cur, "dropped", total_dropped)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._size = size
        return dropped

    def last_safety_key(self) -> tuple[int, int]:
        """(stamp [ns], sequence) of the newest safety event ever enqueued, (0, -1) if none; survives restarts."""
        row = self._db.execute("SELECT value FROM meta WHERE key='last_safety_key'").fetchone()
        if not row:
            return (0, -1)
        stamp, seq = row[0].split(":")
        return (int(stamp), int(seq))

    def safety_event_waiting(self) -> bool:
        """Whether a safety event is stored and not yet planned into a batch (the uploader's priority lane)."""
        return self._db.execute("SELECT 1 FROM events WHERE priority=? AND channel='safety_event' "
                                "AND wire_seq IS NULL LIMIT 1", (PRIORITY_SAFETY,)).fetchone() is not None

    def take_batch(self, now: float, max_events: int) -> list[StoredEvent]:
        """The batch to send now, in wire-seq order: the unacknowledged batch again if there is one, else new
        events (safety, then live, then rate-limited backlog, oldest first in each) with fresh wire seqs."""
        cols = "seq, wire_seq, ts, channel, priority, created, payload"
        inflight = self._db.execute(
            f"SELECT {cols} FROM events WHERE wire_seq IS NOT NULL ORDER BY wire_seq"  # noqa: S608 - constant
        ).fetchall()
        if inflight:
            self.last_batch_fresh = False
            return [StoredEvent(*r) for r in inflight]
        if self._token_time is None:  # a fresh bucket is full: one second of backlog
            self._token_time, self._tokens = now, self.backlog_rate
        elapsed = max(0.0, now - self._token_time)
        self._token_time = now
        self._tokens = min(self.backlog_rate, self._tokens + elapsed * self.backlog_rate)
        new = "seq, ts, channel, priority, created, payload"
        rows = self._db.execute(
            f"SELECT {new} FROM events WHERE priority=? ORDER BY seq LIMIT ?",  # noqa: S608 - constant columns
            (PRIORITY_SAFETY, max_events),
        ).fetchall()
        left = max_events - len(rows)
        if left > 0:
            rows += self._db.execute(
                f"SELECT {new} FROM events WHERE priority=? AND created>=? ORDER BY created, seq LIMIT ?",  # noqa: S608
                (PRIORITY_ROUTINE, now - self.live_window, left),
            ).fetchall()
        left = min(max_events - len(rows), int(self._tokens))
        if left > 0:
            backlog = self._db.execute(
                f"SELECT {new} FROM events WHERE priority=? AND created<? ORDER BY created, seq LIMIT ?",  # noqa: S608
                (PRIORITY_ROUTINE, now - self.live_window, left),
            ).fetchall()
            self._tokens -= len(backlog)
            rows += backlog
        if not rows:
            return []
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            row = cur.execute("SELECT value FROM meta WHERE key='next_wire_seq'").fetchone()
            first = int(row[0]) if row else max(1, int(now * 1e6))
            cur.executemany("UPDATE events SET wire_seq=? WHERE seq=?", [(first + i, r[0]) for i, r in enumerate(rows)])
            cur.execute(
                "INSERT INTO meta VALUES ('next_wire_seq', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(first + len(rows)),),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self.last_batch_fresh = True
        return [StoredEvent(r[0], first + i, *r[1:]) for i, r in enumerate(rows)]

    def release_inflight(self) -> int:
        """Forget the wire seqs of the unacknowledged batch, so the next batch is planned afresh (safety first).

        Only for a batch that certainly never reached the cloud: every attempt was refused at connect or answered
        with an error, and it was planned in this process (gaps in seqs are allowed, duplicates are not)."""
        cur = self._db.execute("UPDATE events SET wire_seq=NULL WHERE wire_seq IS NOT NULL")
        return cur.rowcount

    def ack_through(self, acked_through: int) -> int:
        """The cloud durably holds every wire seq <= ``acked_through``: remove those events; return how many."""
        return self._remove("wire_seq IS NOT NULL AND wire_seq<=?", (acked_through,), "acked")

    def reject(self, wire_seqs: Iterable[int], reason: str = "refused by the cloud as invalid",
               now: float = 0.0) -> int:
        """Move events the cloud refused as invalid (422) to the dead letters, counted per channel as rejected;
        return how many."""
        seqs = list(wire_seqs)
        if not seqs:
            return 0
        marks = ",".join("?" * len(seqs))
        return self._dead_letter(f"wire_seq IN ({marks})", tuple(seqs), reason, now)

    def dead_letter_inflight(self, reason: str, now: float) -> int:
        """Move the whole unacknowledged batch aside: the cloud refuses it for good (e.g. 400 malformed-batch), so
        resending it would block the queue forever. Counted per channel as rejected; returns how many."""
        return self._dead_letter("wire_seq IS NOT NULL", (), reason, now)

    def dead_letters(self, limit: int = 100) -> list[tuple[int, str, str, bytes]]:
        """The newest dead letters as (wire_seq, channel, reason, payload), newest first."""
        return self._db.execute("SELECT wire_seq, channel, reason, payload FROM dead_letter ORDER BY id DESC "
                                "LIMIT ?", (limit,)).fetchall()

    def _dead_letter(self, where: str, args: tuple, reason: str, now: float) -> int:
        cols = "wire_seq, ts, channel, priority, created, payload"
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(f"INSERT INTO dead_letter ({cols}, refused_at, reason) "  # noqa: S608 - constant columns
                        f"SELECT {cols}, ?, ? FROM events WHERE {where} ORDER BY wire_seq", (now, reason[:500], *args))
            rows = cur.execute(f"DELETE FROM events WHERE {where} RETURNING channel", args).fetchall()  # noqa: S608
            counts: dict[str, int] = {}
            for (ch,) in rows:
                counts[ch] = counts.get(ch, 0) + 1
            self._bump(cur, "rejected", counts)
            old = cur.execute("DELETE FROM dead_letter WHERE id <= (SELECT max(id) FROM dead_letter) - ? "
                              "RETURNING channel", (DEAD_LETTER_CAPACITY,)).fetchall()
            dropped: dict[str, int] = {}
            for (ch,) in old:
                dropped[ch] = dropped.get(ch, 0) + 1
            self._bump(cur, "dropped", dropped)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._size -= len(rows)
        return len(rows)

    def _remove(self, where: str, args: tuple, counter: str) -> int:
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            rows = cur.execute(f"DELETE FROM events WHERE {where} RETURNING channel", args).fetchall()  # noqa: S608
            counts: dict[str, int] = {}
            for (ch,) in rows:
                counts[ch] = counts.get(ch, 0) + 1
            self._bump(cur, counter, counts)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._size -= len(rows)
        return len(rows)

    def stats(self) -> StoreStats:
        """Persisted counters per channel and the current backlog."""
        s = StoreStats()
        for name, ch, value in self._db.execute("SELECT name, channel, value FROM counters"):
            getattr(s, name)[ch] = value
        s.pending = self._size
        s.pending_safety = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE priority=?", (PRIORITY_SAFETY,)
        ).fetchone()[0]
        s.dead_letter = self._db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
        return s

    def close(self) -> None:
        """Close the database (everything committed is already durable)."""
        self._db.close()

    @staticmethod
    def _bump(cur: sqlite3.Cursor, name: str, counts: dict[str, int]) -> None:
        cur.executemany(
            "INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT(name, channel) DO UPDATE SET value=value+excluded.value",
            [(name, ch, n) for ch, n in counts.items() if n],
        )
