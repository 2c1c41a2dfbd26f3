"""One polling loop per watched site, shared by every browser watching it (server-sent events fan-out).

The loop reads the site's latest robot channels, changed tasks and leader as a read-only, site-scoped principal
(RLS still applies), feeds them through `SiteState`, and puts each delta, serialized once as a server-sent event, on
every subscriber's queue. It reads every `poll_s`, and at once when an ingest in this process has stored a batch of
one of the site's robots (`ConsoleHub.wake`, called by the ingest route after its commit with the robot's site): an
update then waits for one read, not for half a poll period. A browser that falls behind (full queue) is told to
resynchronise instead of slowing the others. The loop stops when the last browser of the site leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolClosed

import sigma_protocol as protocol
from sigma_cloud.console.feed import FEED_CHANNELS, TASK_FIELDS, SiteState
from sigma_cloud.core.db import Principal, transaction

log = logging.getLogger(__name__)
CHANNEL_OF = {protocol.CHANNEL_IDS[name]: name for name in FEED_CHANNELS}
# Only rows written since the previous read: a row's version carries the id of the transaction that wrote it
# (xmin); every transaction older than the previous read's snapshot xmin had finished before that read, so it was
# seen then. Compared modulo 2^32 (xmin is a 32-bit xid); a row re-read by mistake is dropped by its seq anyway.
SNAPSHOT_SQL = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
WRITTEN_SINCE = "(xmin::text::bigint - %(since)s::bigint + 4294967296) %% 4294967296 < 2147483648"
LATEST_SQL = ("SELECT robot_id, channel, seq, payload::text, extract(epoch FROM ts)::float8 FROM robot_latest "  # noqa: S608 - constants
              "WHERE site_id = %(site)s AND channel = ANY(%(channels)s) AND (%(since)s::bigint IS NULL OR "
              + WRITTEN_SINCE + ")")
TASKS_SQL = ("SELECT " + ", ".join(TASK_FIELDS)  # noqa: S608 - a constant column list
             + " FROM tasks WHERE site_id = %s AND updated_at > %s ORDER BY updated_at LIMIT 5000")
LEADER_SQL = "SELECT robot_id, term FROM site_leaders WHERE site_id = %s"
TASK_OVERLAP = dt.timedelta(seconds=5)  # re-read recently updated tasks: commits may land out of updated_at order
QUEUE_DEPTH = 64
POLL_S = 0.05  # each watched site is read 20 times a second (only the rows written since the previous read)
MIN_INTERVAL_S = 0.02  # woken reads start at least this far apart: a burst of ingests coalesces into one read
RESYNC = b""  # queued instead of a delta: the browser fell behind and gets a fresh snapshot
IDLE_GRACE_S = 30.0  # a feed keeps polling this long after its last browser left (reloads, stream reconnects)


def sse(kind: str, data: Any) -> bytes:
    """One server-sent event (`event:` and one `data:` line of JSON)."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@dataclass
class SiteFeed:
    """The polling loop of one site and the queues of the browsers watching it."""

    site_id: str
    pool: AsyncConnectionPool
    poll_s: float
    state: SiteState = field(default_factory=SiteState)
    subscribers: set[asyncio.Queue] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    tasks_since: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    idle_until: float = 0.0
    xmin_since: int | None = None  # the previous read's snapshot xmin (mod 2^32); None: read every row
    rows_read: int = 0  # robot_latest rows read so far (docs/console.md, bench/console_profile.py)
    pipeline: bool = True  # the read's statements in one round trip (off only to compare, bench/console_profile.py)
    woken: asyncio.Event = field(default_factory=asyncio.Event)  # set by ConsoleHub.wake: read now
    reads: int = 0  # reads so far (bench/console_profile.py, tests)

    async def poll_once(self) -> dict[str, Any]:
        """Read the site once; the delta (robots, tasks, leader) of what changed."""
        principal = Principal(subject=f"console-feed:{self.site_id}", role="operator", sites=(self.site_id,))
        async with transaction(self.pool, principal) as conn:
            # One round trip for the four statements (pipeline mode; the server still runs them in this order, so
            # the snapshot xmin is taken before the rows are read).
            async with conn.pipeline() if self.pipeline else contextlib.nullcontext():
                scur = await conn.execute(SNAPSHOT_SQL)
                cur = await conn.execute(LATEST_SQL, {"site": self.site_id, "channels": list(CHANNEL_OF),
                                                      "since": self.xmin_since})
                tcur = conn.cursor(row_factory=dict_row)
                await tcur.execute(TASKS_SQL, (self.site_id, self.tasks_since - TASK_OVERLAP))
                lcur = await conn.execute(LEADER_SQL, (self.site_id,))
            snap = await scur.fetchone()
            latest = [(r, CHANNEL_OF[c], s, p, t) for r, c, s, p, t in await cur.fetchall()]
            tasks = await tcur.fetchall()
            leader = await lcur.fetchone()
        self.xmin_since = None if snap is None else snap[0] % 2**32
        self.rows_read += len(latest)
        if tasks:
            self.tasks_since = max(self.tasks_since, max(t["updated_at"] for t in tasks))
        delta: dict[str, Any] = {}
        robots = self.state.apply_latest(latest)
        if robots:
            delta["robots"] = list(robots.values())
        changed_tasks = self.state.apply_tasks(tasks)
        if changed_tasks:
            delta["tasks"] = changed_tasks
        new_leader = self.state.apply_leader(leader)
        if new_leader is not None:
            delta["leader"] = new_leader
        return delta

    def publish(self, delta: dict[str, Any]) -> None:
        """Put the delta, serialized once for every browser, on each subscriber's queue."""
        message = sse("delta", delta)
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a slow browser: drop its backlog, make it start again from a snapshot
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)

    async def run(self) -> None:
        # The condition is checked with no await before the loop ends, so a browser that joined in between is seen.
        next_poll = time.monotonic()
        first = True  # what the first read finds goes out in each browser's snapshot (they wait for `ready`)
        while self.subscribers or time.monotonic() < self.idle_until:
            started = time.monotonic()
            self.woken.clear()  # a wake from now on (a commit this read may miss) makes another read
            try:
                delta = await self.poll_once()
                self.reads += 1
                self.ready.set()
                if delta and not first:
                    delta["t"] = round(time.time(), 4)  # when it left the poll [UNIX s] (bench: server vs page share)
                    self.publish(delta)
                first = False
            except asyncio.CancelledError:
                raise
            except PoolClosed:  # the service is shutting down
                return
            except Exception as exc:  # noqa: BLE001 - database away (restart, failover): keep the browsers, try again
                log.warning("console feed of site %s: %s", self.site_id, exc)
                first = False  # browsers may get a snapshot before a read succeeds (10 s): publish from now on
                await asyncio.sleep(max(self.poll_s, 1.0))
            # A fixed rate (a slow read does not stretch the period), or sooner when an ingest wakes the feed.
            next_poll = max(next_poll + self.poll_s, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), timeout=max(0.0, next_poll - time.monotonic()))
            if self.woken.is_set():
                await asyncio.sleep(max(0.0, started + MIN_INTERVAL_S - time.monotonic()))
                next_poll = time.monotonic()


class ConsoleHub:
    """The site feeds of one API process."""

    def __init__(self, pool: AsyncConnectionPool, poll_s: float | None = None) -> None:
        self.pool = pool
        self.poll_s = POLL_S if poll_s is None else poll_s
        self.feeds: dict[str, SiteFeed] = {}

    async def subscribe(self, site_id: str) -> tuple[SiteFeed, asyncio.Queue]:
        """Join (or start) the site's feed; returns it once it has read the site at least once."""
        feed = self.feeds.get(site_id)
        if feed is None:
            feed = self.feeds[site_id] = SiteFeed(site_id, self.pool, self.poll_s)
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_DEPTH)
        feed.subscribers.add(queue)
        if feed.task is None or feed.task.done():  # new, or stopped after its idle grace: (re)start polling
            feed.ready.clear()  # the snapshot waits for a fresh read
            feed.task = asyncio.create_task(feed.run(), name=f"console-feed-{site_id}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.ready.wait(), timeout=10)
        return feed, queue

    def watching(self, site_id: str) -> bool:
        """Whether a feed of the site is running in this process (then the site exists: see routes.events)."""
        feed = self.feeds.get(site_id)
        return feed is not None and feed.task is not None and not feed.task.done()

    def wake(self, site_id: str) -> None:
        """A batch of one of the site's robots was just committed: the site's feed (if one runs in this process)
        reads now instead of at its next period. Called by the ingest route; costs no I/O."""
        if self.watching(site_id):
            self.feeds[site_id].woken.set()

    def unsubscribe(self, feed: SiteFeed, queue: asyncio.Queue) -> None:
        """Leave the feed; it keeps polling for IDLE_GRACE_S after its last browser, then stops by itself."""
        feed.subscribers.discard(queue)
        if not feed.subscribers:
            feed.idle_until = time.monotonic() + IDLE_GRACE_S
