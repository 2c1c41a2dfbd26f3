"""Group calls for per-robot requests: many robots' small database calls answered by one statement.

Per robot and request, a fleet's idle cost was one transaction per long-poll (its request nonce, replay protection)
and a key look-up per robot; at 10,000 robots that is 1,000 transactions/s doing nothing useful, and a cold start
(every robot's first request at once) queued 10,000 look-ups on the pool. `GroupCall` gathers the calls of a short
window (`window_s`, 50 ms) and of the time the previous statement took, and answers them with one statement:
~20 statements/s at 10,000 robots polling every 10 s. Used for the long-polls' nonces (migration 0072
claim_device_nonces) and device-key look-ups (device_keys).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from psycopg_pool import AsyncConnectionPool

K = TypeVar("K")
V = TypeVar("V")
CLAIM_SQL = "SELECT robot_id, nonce FROM claim_device_nonces(%s::text[], %s::text[])"
KEYS_SQL = "SELECT robot_id, public_key, site_id, status FROM device_keys(%s::text[])"
ROLE_SQL = "SELECT set_config('role', 'sigma_device', true)"


class GroupCall(Generic[K, V]):
    """`await call(key)` -> the value `run` gives that key; `run` gets every key gathered in one flush, in order
    (duplicates included), and returns one value per key."""

    def __init__(self, run: Callable[[list[K]], Awaitable[list[V]]], window_s: float = 0.05,
                 max_batch: int = 5000) -> None:
        self.run = run
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: list[tuple[K, asyncio.Future[V]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # statements sent (a gauge for tests and the bench)

    async def __call__(self, key: K) -> V:
        """The value for `key`; raises what `run` raised (psycopg errors: the route answers 503)."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a request cancelled meanwhile leaves no "never retrieved" warning
        self._queue.append((key, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group-call")
        return await asyncio.shield(future)  # a cancelled request leaves the batch intact

    async def _flush(self) -> None:
        await asyncio.sleep(self.window_s)  # let the calls of the next moment join this statement
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                values = await self.run([key for key, _ in batch])
                self.flushes += 1
            except Exception as exc:  # noqa: BLE001 - every waiter gets the error (psycopg.Error, PoolTimeout)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), value in zip(batch, values, strict=True):
                if not future.done():
                    future.set_result(value)

    async def close(self) -> None:
        """Wait for the flush in progress (at shutdown)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def nonce_claims(pool: AsyncConnectionPool, window_s: float = 0.05) -> GroupCall[tuple[str, str], bool]:
    """Claims (robot id, nonce) pairs: True when new, False for a pair already used (a replay; also the second of
    the same pair within one flush)."""
    async def run(pairs: list[tuple[str, str]]) -> list[bool]:
        async with pool.connection() as conn, conn.pipeline(), conn.transaction():  # one round trip
            await conn.execute(ROLE_SQL)
            cur = await conn.execute(CLAIM_SQL, ([r for r, _ in pairs], [n for _, n in pairs]))
        claimed = {(row[0], row[1]) for row in await cur.fetchall()}
        out = []
        for pair in pairs:
            out.append(pair in claimed)
            claimed.discard(pair)
        return out

    return GroupCall(run, window_s)


def key_reads(pool: AsyncConnectionPool, window_s: float = 0.0) -> GroupCall[str, tuple[str, str, str] | None]:
    """Device-key rows (public key, site, status) by robot id, None for an unknown robot; concurrent look-ups
    share one statement (no added window by default: a cached key is the common case, a miss should be quick)."""
    async def run(robot_ids: list[str]) -> list[tuple[str, str, str] | None]:
        async with pool.connection() as conn, conn.pipeline(), conn.transaction():  # one round trip
            await conn.execute(ROLE_SQL)
            cur = await conn.execute(KEYS_SQL, (sorted(set(robot_ids)),))
        rows = {row[0]: (row[1], row[2], row[3]) for row in await cur.fetchall()}
        return [rows.get(robot_id) for robot_id in robot_ids]

    return GroupCall(run, window_s)
