"""``acquire_within``: the ingest admission's and the gated pool's bounded wait (no permit lost or leaked)."""

import asyncio

import pytest

from sigma_cloud.core.db import acquire_within


def test_acquire_within_takes_a_free_permit_and_times_out_on_a_held_one():
    async def run():
        sem = asyncio.Semaphore(1)
        await acquire_within(sem, 0.5)
        with pytest.raises(TimeoutError):
            await acquire_within(sem, 0.05)
        sem.release()
        await acquire_within(sem, 0.5)  # the timed-out waiter took nothing with it
        return sem.locked()

    assert asyncio.run(run()) is True


def test_a_cancelled_waiter_takes_no_permit_with_it():
    async def run():
        sem = asyncio.Semaphore(1)
        await sem.acquire()
        waiters = [asyncio.ensure_future(acquire_within(sem, 5.0)) for _ in range(20)]
        await asyncio.sleep(0.01)
        for w in waiters[:10]:
            w.cancel()
        sem.release()  # one of the remaining ten gets it, and hands it on when done
        got = 0
        for w in waiters[10:]:
            await w
            got += 1
            sem.release()
        results = await asyncio.gather(*waiters[:10], return_exceptions=True)
        return got, sum(isinstance(r, asyncio.CancelledError) for r in results), sem._value

    got, cancelled, value = asyncio.run(run())
    assert (got, cancelled, value) == (10, 10, 1)
