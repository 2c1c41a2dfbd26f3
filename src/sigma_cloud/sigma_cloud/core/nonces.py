"""Group-committed nonce claims for the decision long-poll (migration 0072 claim_device_nonces).

Every long-poll carries a fresh request nonce that must be recorded before anything is answered (replay protection).
One transaction per long-poll was a per-robot cost that did not scale with events (10,000 robots: 1,000 transactions/s
of nothing pending). Claims made while a flush is running wait for the next one, which takes all of them in one
statement: no added delay when the service is quiet, one round trip per flush when it is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from psycopg_pool import AsyncConnectionPool

CLAIM_SQL = "SELECT robot_id, nonce FROM claim_device_nonces(%s::text[], %s::text[])"
ROLE_SQL = "SELECT set_config('role', 'sigma_device', true)"


class NonceClaims:
    """Claims (robot id, nonce) pairs in batches; `claim` answers False for a pair already used (a replay)."""

    def __init__(self, pool: AsyncConnectionPool, max_batch: int = 5000) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # statements sent (a gauge for tests and the bench)

    async def claim(self, robot_id: str, nonce: str) -> bool:
        """Record the nonce; True when it was new. Raises what the database raised (the caller answers 503)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a request cancelled meanwhile leaves no "never retrieved" warning
        self._queue.append((robot_id, nonce, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="nonce-claims")
        return await asyncio.shield(future)  # a cancelled request leaves the batch intact

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                claimed = await self._insert([(r, n) for r, n, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter gets the error (psycopg.Error, PoolTimeout)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for robot_id, nonce, future in batch:
                key = (robot_id, nonce)
                ok = key in claimed
                claimed.discard(key)  # the same pair twice in one batch: the second is the replay
                if not future.done():
                    future.set_result(ok)

    async def _insert(self, pairs: list[tuple[str, str]]) -> set[tuple[Any, Any]]:
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():  # one round trip
            await conn.execute(ROLE_SQL)
            cur = await conn.execute(CLAIM_SQL, ([r for r, _ in pairs], [n for _, n in pairs]))
        self.flushes += 1
        return {tuple(row) for row in await cur.fetchall()}

    async def close(self) -> None:
        """Wait for the flush in progress (at shutdown)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher


def _retrieved(future: asyncio.Future[bool]) -> None:
    if not future.cancelled():
        future.exception()
