"""Ingest pipeline: device authentication, validation, normalization, scoring, one-call durable write."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import psycopg
from nacl.signing import SigningKey, VerifyKey
from psycopg import sql
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg_pool import AsyncConnectionPool

import sigma_protocol as protocol
from sigma_cloud.core import fastpath, fastpath_columnar, group_call, ingest_copy, pgarray
from sigma_cloud.core.analytics import AnomalyScorer, ChannelStats, NormalizationError, features, normalize_payload
from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import Principal, acquire_within, identity_params
from sigma_cloud.core.fastpath import FastBatch
from sigma_cloud.core.group_call import GroupCall
from sigma_cloud.core.notifier import DecisionNotifier
from sigma_cloud.core.observability import robot_id_var
from sigma_cloud.core.partitions import partition_name
from sigma_cloud.core.rows import one_row

# The fast path (migration 0071, core/ingest_copy.py): begin as the device, COPY as sigma_ingest, finish as the device.
BEGIN_SQL = "SELECT hwm FROM ingest_begin(%s, %s)"
COPY_SQL = "COPY {} " + ingest_copy.COLUMNS + " FROM STDIN (FORMAT BINARY)"
FINISH_SQL = ("SELECT ingest_finish(%s, %s, %s, %b, %b, %b, %b, %b, %s::jsonb, %b, %b, %b, %s)")
# ingest_begin() + ingest_finish() in the first round trip when the locked mark still cuts the batch where the API cut
# it (migration 0074): the transaction is then begin+finish, COPY, COMMIT.
ONCE_SQL = ("SELECT hwm, new_hwm FROM ingest_once(%s, %s, %s, %s, %s, %s, %b, %b, %b, %b, %b, %s::jsonb, %b, %b, %b, "
            "%s)")
ROLE_SQL = "SELECT set_config('role', %s, true)"
# Small batches: one round trip through ingest_batch() (migration 0005; RLS-checked INSERT ... SELECT FROM unnest).
INGEST_SQL = ("SELECT accepted, duplicates, acked_through FROM ingest_batch(%s, %s, %b, %b, %b, %b, %b, %s::jsonb, "
              "%s::integer[])")
TRACE_SQL = "UPDATE robot_ingest_state SET last_traceparent = %s WHERE robot_id = %s"
INGEST_ROLE = "sigma_ingest"
SAFETY_EVENT = protocol.CHANNEL_IDS["safety_event"]
# The answer for an unknown robot and for a wrong key alike (sigma_protocol.verify_request's wording).
BAD_SIGNATURE_DETAIL = "signature does not verify with the robot's registered key"
IDENTITY_SQL = ("SELECT set_config('role', %s, true), set_config('sigma.sites', %s, true), "
                "set_config('sigma.robot_id', %s, true), set_config('sigma.subject', %s, true)")


class NotPriorityError(Exception):
    """A batch in the priority lane that does not deserve it (the route demotes it to the bulk lane)."""


class IngestRejected(protocol.ProtocolError):
    """A batch refused as a whole; `errors` lists per-event problems for 422."""

    def __init__(self, status: int, kind: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(status, kind, detail)
        self.errors = errors or []
        self.retry_after = retry_after


def _overloaded() -> IngestRejected:
    """503 for a batch admission refuses (too many pending, or no slot in time): the robot keeps its events."""
    return IngestRejected(503, "overloaded", "the ingest service is at capacity; retry after the delay with the same "
                          "events (and any newer ones)", retry_after=1)


@dataclass(frozen=True)
class DeviceKey:
    verify_key: VerifyKey
    site_id: str
    status: str
    expires: float  # always good until then (key_cache_ttl_s: the rule when no listener invalidates)
    read_at: float = 0.0
    epoch: int = -1  # the notifier epoch it was read in with no key change meanwhile; -1: not kept past `expires`


@dataclass
class PreparedBatch:
    """Column arrays for ingest_batch(), one entry per new event."""

    seqs: list[int]
    ts: list[float]
    channels: np.ndarray  # int16 channel ids
    payloads: list[bytes]
    scores: np.ndarray  # float32
    stats: dict[str, Any]
    latest: list[int]  # 1-based index of each channel's newest event


def device_principal(robot_id: str) -> Principal:
    return Principal(subject=f"device:{robot_id}", role="device", robot_id=robot_id)


class IngestService:
    """Per-process ingest state: device key cache and per-robot streaming scorers (bounded LRU)."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool, max_robots: int = 100_000,
                 ingest_pool: AsyncConnectionPool | None = None, notifier: DecisionNotifier | None = None,
                 priority_pool: AsyncConnectionPool | None = None) -> None:
        self.settings = settings
        self.pool = pool  # the API's pool: key lookups of the other device routes (the decision long-poll, acks)
        # A bulkhead: batches use their own connections (one per admission slot), so under overload they never queue
        # behind hundreds of long-polls waiting for the API's pool, nor starve them (docs/cloud.md "Fleet scale").
        self.ingest_pool = ingest_pool or pool
        self.keys: dict[str, DeviceKey] = {}
        self.scorers: OrderedDict[str, tuple[AnomalyScorer, int]] = OrderedDict()
        self.max_robots = max_robots
        self._decoy_key = SigningKey.generate().verify_key  # its private half is discarded at once
        self.concurrency = settings.ingest_concurrency
        self._slots = asyncio.Semaphore(self.concurrency)
        self.waiting = 0  # batches waiting for a slot (a gauge for tests and metrics)
        self.pending = {"bulk": 0, "priority": 0}  # per lane, batches being read or waiting for a slot
        # The priority lane (docs/device-protocol.md "Priority lane"): its own slots and reserved connections.
        self.priority_pool = priority_pool or self.ingest_pool
        self._priority_slots = asyncio.Semaphore(settings.ingest_priority_slots)
        self.priority_admitted = 0  # batches stored in the priority lane (gauges for tests and the bench)
        self.priority_demoted = 0  # batches that claimed the lane without deserving it
        self.key_reads = 0  # device-key look-ups that went to the database (a gauge for tests and the bench)
        # With a listener, a cached key stays good until its robot's NOTIFY (migration 0072) or key_cache_max_age_s:
        # the cache no longer re-reads every robot's key every key_cache_ttl_s (docs/cloud.md "Fleet scale").
        self.notifier = notifier
        self._key_loaders: dict[int, GroupCall[str, tuple[str, str, str] | None]] = {}
        if notifier is not None:
            notifier.on_key_change.append(self.forget_key)

    def forget_key(self, robot_id: str | None) -> None:
        """Drop one robot's cached key (None: all of them); called on sigma_robot_keys notifications."""
        if robot_id is None:
            self.keys.clear()
        else:
            self.keys.pop(robot_id, None)

    def _key_loader(self, pool: AsyncConnectionPool) -> GroupCall[str, tuple[str, str, str] | None]:
        loader = self._key_loaders.get(id(pool))
        if loader is None:
            loader = self._key_loaders[id(pool)] = group_call.key_reads(pool)
        return loader

    def _fresh(self, key: DeviceKey, now: float) -> bool:
        if key.expires > now:
            return True
        notifier = self.notifier
        return (notifier is not None and notifier.connected and key.epoch == notifier.epoch
                and now - key.read_at < self.settings.key_cache_max_age_s)

    @contextlib.asynccontextmanager
    async def admission(self, read: Callable[[], Awaitable[bytes]], priority: bool = False) -> AsyncIterator[bytes]:
        """The body of one batch (`read`), then a slot for its work: at most `concurrency` batches in work in this
        process. Refused before the body is read (503 overloaded, Retry-After) when settings.ingest_max_pending
        batches of this process and lane are already being read or waiting for a slot; the body is read without
        holding a slot -- a slow or withholding client (unauthenticated until its body is read) holds nobody's
        slot -- and must arrive within settings.ingest_body_timeout_s (else 408); a batch that then waited
        settings.ingest_queue_wait_s for a slot is refused 503 too. Under overload robots keep their events and
        send them later in larger batches (cheaper per event) instead of timing out in a queue (docs/cloud.md)."""
        settings = self.settings
        lane = "priority" if priority else "bulk"  # each lane its own bound: bulk overload never refuses an alert
        if self.pending[lane] >= settings.ingest_max_pending:
            raise _overloaded()
        slots = self._priority_slots if priority else self._slots
        self.pending[lane] += 1
        try:
            try:
                body = await asyncio.wait_for(read(), settings.ingest_body_timeout_s)
            except TimeoutError as exc:
                raise IngestRejected(408, "body-timeout", f"the request body did not arrive within "
                                     f"{settings.ingest_body_timeout_s:g} s; nothing was stored") from exc
            self.waiting += 1
            try:
                await acquire_within(slots, settings.ingest_queue_wait_s)
            except TimeoutError as exc:
                raise _overloaded() from exc
            finally:
                self.waiting -= 1
        finally:
            self.pending[lane] -= 1
        try:
            yield body
        finally:
            slots.release()

    async def device_key(self, robot_id: str, now: float, pool: AsyncConnectionPool | None = None) -> DeviceKey:
        """The robot's registered key (cached for key_cache_ttl_s); for an unknown robot a decoy key that nothing
        verifies against, so the caller gets the same 401 bad-signature as for a wrong key."""
        cached = self.keys.get(robot_id)
        if cached is not None and self._fresh(cached, now):
            return cached
        notifier = self.notifier
        watch = (notifier.epoch, notifier.key_changes) if notifier is not None and notifier.connected else None
        self.key_reads += 1
        row = await self._key_loader(pool or self.pool)(robot_id)  # concurrent misses share one statement
        expires = now + self.settings.key_cache_ttl_s
        if row is None:  # answered exactly like a wrong key (no robot-id enumeration); cached for the TTL only
            key = DeviceKey(self._decoy_key, "", "unknown", expires)
        else:
            # Kept past the TTL only when no key notification could have been missed while it was read.
            trusted = watch is not None and notifier is not None and notifier.connected \
                and (notifier.epoch, notifier.key_changes) == watch
            key = DeviceKey(protocol.load_verify_key(row[0]), row[1], row[2], expires, now,
                            watch[0] if trusted and watch is not None else -1)
        self.keys.pop(robot_id, None)
        self.keys[robot_id] = key  # newest last: the oldest go first when the cache is full
        while len(self.keys) > self.max_robots:
            del self.keys[next(iter(self.keys))]
        return key

    async def authenticate(self, headers: Any, method: str, path: str, body: bytes, now: float) -> str:
        """Verify the device signature; returns the robot id. Raises ProtocolError (401/403)."""
        auth = protocol.parse_auth_headers(headers)
        robot_id_var.set(auth.robot_id)  # the request's JSON log records name the robot (observability)
        # The ingest route looks keys up on its own connections (it holds an admission slot), the others on the API's.
        key = await self.device_key(auth.robot_id, now, self.ingest_pool if path == protocol.INGEST_PATH else None)
        protocol.verify_request(key.verify_key, auth, method, path, body, now, self.settings.clock_skew_s)
        if key.status == "unknown":  # unreachable: nobody holds the decoy's private key
            raise IngestRejected(401, "bad-signature", BAD_SIGNATURE_DETAIL)
        if key.status != "active":
            raise IngestRejected(403, "decommissioned", f"robot {auth.robot_id!r} is {key.status}")
        return auth.robot_id

    async def _scorer(self, robot_id: str, pool: AsyncConnectionPool | None = None) -> tuple[AnomalyScorer, int]:
        entry = self.scorers.get(robot_id)
        if entry is not None:
            self.scorers.move_to_end(robot_id)
            return entry
        scorer = AnomalyScorer()
        async with (pool or self.ingest_pool).connection() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(IDENTITY_SQL, identity_params(device_principal(robot_id)))  # one round trip
            stats_cur = await conn.execute("SELECT channel, stats FROM robot_latest WHERE robot_id = %s "
                                           "AND stats IS NOT NULL", (robot_id,))
            hwm_cur = await conn.execute("SELECT last_seq FROM robot_ingest_state WHERE robot_id = %s", (robot_id,))
        rows = await stats_cur.fetchall()
        hwm = await hwm_cur.fetchone()
        for channel, stored in rows:
            stats = ChannelStats.from_json(stored)
            if stats is not None:  # unreadable or non-finite statistics are dropped, never scored against
                scorer.stats[channel] = stats
        entry = (scorer, hwm[0] if hwm else 0)
        self.scorers[robot_id] = entry
        while len(self.scorers) > self.max_robots:
            self.scorers.popitem(last=False)
        return entry

    def reference_columns(self, robot_id: str, data: Any, now: float) -> FastBatch:
        """Validate and normalize with the reference validator; raises IngestRejected 422 listing every error."""
        events, errors = protocol.validate_batch(data, robot_id, now, self.settings.max_event_age_s,
                                                 self.settings.max_events_per_batch, self.settings.clock_skew_s)
        normalized: list[dict[str, Any]] = []
        if not errors:
            for index, event in enumerate(events):
                try:
                    normalized.append(normalize_payload(protocol.CHANNELS[event["channel"]], event["payload"]))
                except NormalizationError as exc:
                    errors.append(protocol.EventError(index, event["seq"], exc.field, str(exc)))
        if errors:
            raise IngestRejected(422, "invalid-events", f"{len(errors)} invalid event(s); nothing was stored",
                                 [e.to_json() for e in errors])
        channels = [e["channel"] for e in events]
        groups: dict[str, tuple[list[int], Any]] = {}
        for index, (channel, payload) in enumerate(zip(channels, normalized, strict=True)):
            where, rows = groups.setdefault(channel, ([], []))
            where.append(index)
            rows.append(features(protocol.CHANNELS[channel], payload))
        return FastBatch([e["seq"] for e in events], [float(e["ts"]) for e in events], channels,
                         [orjson.dumps(p) for p in normalized], groups)

    @staticmethod
    def score(columns: FastBatch, scorer: AnomalyScorer, hwm: int) -> PreparedBatch:
        """Drop events already durable (seq <= hwm: a prefix, seqs strictly increase within a batch), score the
        rest per channel (vectorized)."""
        cut = bisect.bisect_right(columns.seqs, hwm)
        n = len(columns.seqs) - cut
        channel_ids = np.empty(n, dtype=np.int16)
        scores = np.zeros(n, dtype=np.float32)
        stats: dict[str, Any] = {}
        latest: list[int] = []
        for channel, (positions, matrix) in columns.groups.items():
            if cut:
                first = bisect.bisect_left(positions, cut)
                positions, matrix = [p - cut for p in positions[first:]], matrix[first:]
                if not positions:
                    continue
            channel_id = protocol.CHANNEL_IDS[channel]
            where = np.asarray(positions)
            channel_ids[where] = channel_id
            scores[where] = scorer.score_batch(channel_id, matrix)
            if channel_id in scorer.stats:
                stats[str(channel_id)] = scorer.stats[channel_id].to_json()
            latest.append(positions[-1] + 1)
        return PreparedBatch(columns.seqs[cut:], columns.ts[cut:], channel_ids, columns.payload_texts[cut:], scores,
                             stats, latest)

    def decode(self, robot_id: str, body: bytes, now: float, columnar: bool = False) -> FastBatch:
        """The batch's columns: the fast decoder of its format, else the reference path (which names every error).
        `columnar`: batch format 2 (sigma_protocol.columnar), else the row format."""
        settings = self.settings
        decoder = fastpath_columnar.decode if columnar else fastpath.decode
        columns = decoder(body, robot_id, now, settings.max_event_age_s, settings.max_events_per_batch,
                          settings.clock_skew_s)
        if columns is not None:
            return columns
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise IngestRejected(400, "malformed-batch", f"body is not valid JSON: {exc}") from exc
        if columnar:  # the same events as rows, validated exactly as the row format's
            data = {"robot_id": data.get("robot_id") if isinstance(data, dict) else None,
                    "events": protocol.columnar_events(data)}
        return self.reference_columns(robot_id, data, now)

    async def ingest(self, robot_id: str, nonce: str, body: bytes, now: float,
                     traceparent: str = "", columnar: bool = False, priority: bool = False) -> protocol.IngestAck:
        """Decode, prepare and store one batch; returns the ack only after commit. A valid W3C `traceparent` is
        kept as the robot's latest trace (decisions made on this telemetry join it; migration 0070). `columnar`:
        the body is in batch format 2 (its Content-Type said so). `priority`: the batch came in the priority lane
        and is stored on its connections only if it deserves the lane (:meth:`deserves_priority`); otherwise
        NotPriorityError is raised before anything is stored (the nonce is not consumed: the route demotes it)."""
        try:
            columns = self.decode(robot_id, body, now, columnar)
        except (ValueError, TypeError, RecursionError, UnicodeError) as exc:
            # Never a 5xx for a malformed batch: a robot retries 5xx, so one bad batch would block its queue.
            raise IngestRejected(400, "malformed-batch", f"batch cannot be read: {type(exc).__name__}") from exc
        total = len(columns.seqs)
        if priority and total > self.settings.ingest_priority_max_events:
            raise NotPriorityError(f"{total} events > ingest_priority_max_events")
        pool = self.priority_pool if priority else self.ingest_pool
        scorer, hwm = await self._scorer(robot_id, pool)
        snapshot = dict(scorer.stats)
        try:
            accepted, acked_through = await self._store(robot_id, nonce, columns, scorer, hwm, snapshot, traceparent,
                                                        pool if priority else None)
        except NotPriorityError:
            scorer.stats = snapshot
            raise
        except psycopg.errors.UniqueViolation as exc:
            scorer.stats = snapshot
            raise IngestRejected(409, "replay", "this request (nonce) was already processed; re-sign with a new "
                                 "nonce to retry") from exc
        except psycopg.errors.DataError as exc:
            scorer.stats = snapshot
            raise IngestRejected(422, "invalid-events", f"the database refused a value: {exc.diag.message_primary}; "
                                 "nothing was stored") from exc
        except psycopg.Error as exc:
            scorer.stats = snapshot
            state = getattr(exc, "sqlstate", None)
            if state == "SG401":
                raise IngestRejected(401, "bad-signature", BAD_SIGNATURE_DETAIL) from exc
            if state == "SG403":
                self.keys.pop(robot_id, None)
                raise IngestRejected(403, "decommissioned", f"robot {robot_id!r} is decommissioned") from exc
            self.scorers.pop(robot_id, None)
            raise IngestRejected(503, "unavailable", "the database is unavailable; retry with backoff",
                                 retry_after=1) from exc
        self.scorers[robot_id] = (scorer, acked_through)
        return protocol.IngestAck(robot_id, accepted, total - accepted, acked_through)

    def deserves_priority(self, batch: PreparedBatch) -> bool:
        """Whether a scored batch earns the priority lane: it holds a safety event or an event scored at/above
        settings.ingest_priority_min_score -- or nothing new at all (a resend after a lost ack stores nothing)."""
        if not batch.seqs:
            return True
        return bool((batch.channels == SAFETY_EVENT).any()
                    or (batch.scores >= self.settings.ingest_priority_min_score).any())

    async def _store(self, robot_id: str, nonce: str, columns: FastBatch, scorer: AnomalyScorer, hwm: int,
                     snapshot: dict[int, ChannelStats], traceparent: str,
                     priority_pool: AsyncConnectionPool | None = None) -> tuple[int, int]:
        """Store a batch: by binary COPY from settings.ingest_copy_min_events events on (by default every batch),
        else by one pipelined ingest_batch() call.
        `priority_pool`: a priority-lane batch, checked once scored and stored on that pool."""
        if len(columns.seqs) >= self.settings.ingest_copy_min_events:
            return await self._store_copy(robot_id, nonce, columns, scorer, hwm, snapshot, traceparent,
                                          priority_pool)
        batch = self.score(columns, scorer, hwm)
        if priority_pool is not None and not self.deserves_priority(batch):
            raise NotPriorityError("no safety event and no event at/above ingest_priority_min_score")
        async with (priority_pool or self.ingest_pool).connection() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(IDENTITY_SQL, identity_params(device_principal(robot_id)))
            cur = await conn.execute(INGEST_SQL, (
                robot_id, nonce, pgarray.int8_array(batch.seqs), pgarray.float8_array(batch.ts),
                pgarray.int2_array(batch.channels), pgarray.text_array(batch.payloads),
                pgarray.float4_array(batch.scores), orjson.dumps(batch.stats).decode(), batch.latest))
            accepted, _, acked_through = one_row(await cur.fetchone(), "ingest_batch")
            if traceparent and accepted:
                await conn.execute(TRACE_SQL, (traceparent, robot_id))
        return accepted, acked_through

    async def _store_copy(self, robot_id: str, nonce: str, columns: FastBatch, scorer: AnomalyScorer, hwm: int,
                          snapshot: dict[int, ChannelStats], traceparent: str,
                          priority_pool: AsyncConnectionPool | None = None) -> tuple[int, int]:
        """One transaction: as the device, lock the high-water mark, record the nonce and -- when the locked mark
        still cuts the batch where `hwm` did (the usual case) -- the newest event per channel, the safety events and
        the new mark (ingest_once, one round trip); as sigma_ingest, binary-COPY the events newer than the mark into
        the day partition; commit. If the mark moved across the batch meanwhile (a retry after a lost ack), the batch
        is re-filtered against it and finished after the COPY (ingest_finish), as before migration 0074.
        Returns (events stored, acknowledged-through seq)."""
        batch = self.score(columns, scorer, hwm)
        if priority_pool is not None and not self.deserves_priority(batch):
            raise NotPriorityError("no safety event and no event at/above ingest_priority_min_score")
        cut = len(columns.seqs) - len(batch.seqs)
        async with (priority_pool or self.ingest_pool).connection() as conn:
            if batch.seqs:  # the usual case: two round trips (ingest_copy.copy_exchange_*); None: do it as below
                done = await self._copy_two_round_trips(conn, robot_id, nonce,
                                                        columns.seqs[cut - 1] if cut else None, batch, traceparent)
                if done is not None:
                    return done
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    await conn.execute(IDENTITY_SQL, identity_params(device_principal(robot_id)))
                    if batch.seqs:
                        cur = await conn.execute(ONCE_SQL, (robot_id, nonce, columns.seqs[cut - 1] if cut else None,
                                                            batch.seqs[0],
                                                            *finish_params(robot_id, batch, traceparent)[1:]))
                    else:  # nothing new for the API's mark: only the database's mark can tell
                        cur = await conn.execute(BEGIN_SQL, (robot_id, nonce))
                    await conn.execute(ROLE_SQL, (INGEST_ROLE,))
                row = one_row(await cur.fetchone(), "ingest_once" if batch.seqs else "ingest_begin")
                db_hwm, new_hwm = (row[0], row[1]) if batch.seqs else (row[0], None)
                if new_hwm is not None:  # begun and finished: the rows, then COMMIT
                    await self._copy(conn, batch)
                    await conn.execute("COMMIT")
                    return len(batch.seqs), new_hwm
                if bisect.bisect_right(columns.seqs, db_hwm) != cut:
                    scorer.stats = dict(snapshot)  # part of the batch was stored meanwhile (a retry after a lost ack)
                    batch = self.score(columns, scorer, db_hwm)
                if not batch.seqs:
                    await conn.execute("COMMIT")
                    return 0, db_hwm
                await self._copy(conn, batch)
                async with conn.pipeline():
                    await conn.execute(ROLE_SQL, ("sigma_device",))
                    cur = await conn.execute(FINISH_SQL, finish_params(robot_id, batch, traceparent))
                    await conn.execute("COMMIT")
                return len(batch.seqs), one_row(await cur.fetchone(), "ingest_finish")[0]
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
                    with contextlib.suppress(psycopg.Error):
                        await conn.execute("ROLLBACK")
                raise

    @staticmethod
    async def _copy_two_round_trips(conn: psycopg.AsyncConnection, robot_id: str, nonce: str, low: int | None,
                                    batch: PreparedBatch, traceparent: str) -> tuple[int, int] | None:
        """The transaction of _store_copy in two round trips (docs/cloud.md "Ingest efficiency", round 7): one simple
        query -- identity; ingest_once(); role sigma_ingest; COPY into the day partition -- whose results arrive with
        the COPY's CopyInResponse, then the rows and CopyDone, after which the implicit transaction commits. The same
        statements, roles, locks and order as the parameterized path, so exactly-once and RLS are unchanged. When
        ingest_once() finds the mark moved across the batch, the COPY is failed (CopyFail): nothing was written, the
        nonce is not kept, and None tells the caller to run the parameterized path. None too, before anything is sent,
        for a batch over two UTC days or values a literal cannot carry."""
        pgconn = conn.pgconn
        streams = list(ingest_copy.by_day(batch.seqs, batch.ts, batch.channels, batch.scores, batch.payloads))
        if len(streams) != 1 or pgconn.parameter_status(b"standard_conforming_strings") != b"on":
            return None
        day, data = streams[0]
        query = once_query(robot_id, nonce, low, batch, traceparent, partition_name(day))
        if b"\x00" in query:
            return None
        # Interrupted in the middle (cancelled), the connection is left ACTIVE and the pool closes it on return: the
        # transaction is never committed.
        async with conn.lock:
            results = await conn.wait(ingest_copy.copy_exchange_start(pgconn, query))
            if not results or results[-1].status != ExecStatus.COPY_IN:
                raise _error_of(conn, results, "ingest_once")
            new_hwm = results[1].get_value(0, 1)  # identity, ingest_once, role, COPY
            done = await conn.wait(ingest_copy.copy_exchange_finish(
                pgconn, data, None if new_hwm is not None else b"the mark moved across the batch"))
        if new_hwm is None:
            return None  # CopyFail: rolled back
        if not done or done[0].status != ExecStatus.COMMAND_OK:
            raise _error_of(conn, done, "COPY")
        return len(batch.seqs), int(new_hwm)

    @staticmethod
    async def _copy(conn: psycopg.AsyncConnection, batch: PreparedBatch) -> None:
        """Binary COPY of the batch's rows into their day partitions (one per UTC day, as sigma_ingest)."""
        for day, data in ingest_copy.by_day(batch.seqs, batch.ts, batch.channels, batch.scores, batch.payloads):
            async with conn.cursor().copy(sql.SQL(COPY_SQL).format(sql.Identifier(partition_name(day)))) as copy:
                await copy.write(data)


def _error_of(conn: psycopg.AsyncConnection, results: list[Any], what: str) -> Exception:
    """The database error among a simple query's results (as psycopg would raise it)."""
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            return psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    return RuntimeError(f"{what}: unexpected results {[r.status for r in results]}")


def summary_rows(batch: PreparedBatch) -> tuple[list[int], list[int]]:
    """Row indices of the batch's newest event per channel and of its safety events (what ingest_once/finish store
    besides the rows)."""
    return [i - 1 for i in batch.latest], np.nonzero(batch.channels == SAFETY_EVENT)[0].tolist()


def once_query(robot_id: str, nonce: str, low: int | None, batch: PreparedBatch, traceparent: str,
               partition: str) -> bytes:
    """The fast path's one simple query (ingest_copy.copy_exchange_start), with its values as literals: the device
    identity, ingest_once() with ONCE_SQL's arguments, the role sigma_ingest, the COPY into `partition`."""
    lit = ingest_copy.literal
    role, sites, robot, subject = identity_params(device_principal(robot_id))
    latest, safety = summary_rows(batch)
    args = [lit(robot_id.encode()) + b"::text", lit(nonce.encode()) + b"::text",
            b"NULL::int8" if low is None else b"%d::int8" % low, b"%d::int8" % batch.seqs[0],
            b"%d::int4" % len(batch.seqs), b"%d::int8" % batch.seqs[-1],
            ingest_copy.int_array_literal([batch.seqs[i] for i in latest], b"int8[]"),
            ingest_copy.float_array_literal([batch.ts[i] for i in latest], b"float8[]"),
            ingest_copy.int_array_literal(batch.channels[latest], b"int2[]"),
            ingest_copy.text_array_literal([batch.payloads[i] for i in latest]),
            ingest_copy.float_array_literal(batch.scores[latest], b"float4[]"),
            lit(orjson.dumps(batch.stats)) + b"::jsonb",
            ingest_copy.int_array_literal([batch.seqs[i] for i in safety], b"int8[]"),
            ingest_copy.float_array_literal([batch.ts[i] for i in safety], b"float8[]"),
            ingest_copy.text_array_literal([batch.payloads[i] for i in safety]),
            lit(traceparent.encode()) + b"::text" if traceparent else b"NULL::text"]
    return b"".join([
        b"SELECT set_config('role',", lit(role.encode()), b",true),set_config('sigma.sites',", lit(sites.encode()),
        b",true),set_config('sigma.robot_id',", lit(robot.encode()), b",true),set_config('sigma.subject',",
        lit(subject.encode()), b",true);SELECT hwm,new_hwm FROM ingest_once(", b",".join(args),
        b");SELECT set_config('role','", INGEST_ROLE.encode(), b"',true);COPY ", partition.encode(), b" ",
        ingest_copy.COLUMNS.encode(), b" FROM STDIN (FORMAT BINARY)"])


def finish_params(robot_id: str, batch: PreparedBatch, traceparent: str) -> tuple[Any, ...]:
    """ingest_finish()'s arguments: the newest event per channel, the safety events, the new high-water mark."""
    latest, safety = summary_rows(batch)
    return (robot_id, len(batch.seqs), batch.seqs[-1],
            pgarray.int8_array([batch.seqs[i] for i in latest]), pgarray.float8_array([batch.ts[i] for i in latest]),
            pgarray.int2_array(batch.channels[latest]), pgarray.text_array([batch.payloads[i] for i in latest]),
            pgarray.float4_array(batch.scores[latest]), orjson.dumps(batch.stats).decode(),
            pgarray.int8_array([batch.seqs[i] for i in safety]), pgarray.float8_array([batch.ts[i] for i in safety]),
            pgarray.text_array([batch.payloads[i] for i in safety]), traceparent or None)
