"""Ingest admission (issue 16, docs/cloud.md "Fleet scale"): at most `ingest_concurrency` batches of one API process
in work, each taking its slot only once its body is read (a client that withholds its body holds no slot, and gets 408
after `ingest_body_timeout_s`); beyond `ingest_max_pending` batches being read or waiting, a new one is answered 503
overloaded + Retry-After before its body is read, and one that waited `ingest_queue_wait_s` for a slot gets 503 too;
nothing of a refused batch is stored. Real servers and real clients that send their headers and withhold the body."""

from __future__ import annotations

import time
from typing import Any

import httpx

import sigma_protocol as protocol
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import free_port


def _telemetry_count(cloud: Any, robot_id: str) -> int:
    import psycopg

    with psycopg.connect(cloud.runtime.owner_url) as conn:
        return conn.execute("SELECT count(*) FROM telemetry WHERE robot_id = %s", (robot_id,)).fetchone()[0]


def _post(client: httpx.Client, robot: Any, body: bytes) -> httpx.Response:
    headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    return client.post(protocol.INGEST_PATH, content=body, headers={**headers, "Content-Type": "application/json"})


def _serve(cloud: Any, **overrides: Any) -> Any:
    from conftest import ServerThread

    from sigma_cloud.app.main import create_app

    settings = Settings(**{**cloud.settings.model_dump(), **overrides})
    port = free_port()
    return ServerThread(create_app(settings, cloud.runtime, run_maintenance=False), port), port


def test_a_client_withholding_its_body_holds_no_slot(cloud: Any) -> None:
    from conftest import withhold_body

    # round 20: the slot was taken before the body was read, so a client that sent headers and withheld its body --
    # unauthenticated until the body arrives -- held one of the process's ingest slots for as long as it liked
    robot = cloud.robot("admission-1", site_id="site-admission")
    other = cloud.robot("admission-2", site_id="site-admission")  # a robot has one batch in flight: another robot
    server, port = _serve(cloud, ingest_concurrency=1, ingest_queue_wait_s=0.5)
    with server, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        first = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
        slow = withhold_body(port, robot, first)
        try:
            time.sleep(1.0)  # well past ingest_queue_wait_s: the withheld request is in the app, reading its body
            second = protocol.encode_batch(other.robot_id, other.events(5, time.time()))
            served = _post(client, other, second)
            assert served.status_code == 200 and served.json()["accepted"] == 5, served.text  # the one slot is free
            stored_before = _telemetry_count(cloud, robot.robot_id)
            slow.sendall(first)  # the withheld request completes: its batch is stored too
            answer = slow.recv(65536).decode("latin-1")
            assert answer.startswith("HTTP/1.1 200"), answer[:300]
        finally:
            slow.close()
        assert _telemetry_count(cloud, robot.robot_id) == stored_before + 5


def test_a_body_that_does_not_arrive_in_time_is_refused_408_and_nothing_is_stored(cloud: Any) -> None:
    from conftest import withhold_body

    robot = cloud.robot("admission-3", site_id="site-admission")
    server, port = _serve(cloud, ingest_body_timeout_s=0.5)
    with server:
        body = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
        slow = withhold_body(port, robot, body)
        try:
            answer = slow.recv(65536).decode("latin-1")  # without sending the body
        finally:
            slow.close()
        assert answer.startswith("HTTP/1.1 408"), answer[:300]
        assert "body-timeout" in answer and protocol.is_retryable(408)
    assert _telemetry_count(cloud, robot.robot_id) == 0


def test_beyond_max_pending_a_batch_is_refused_503_before_its_body_is_read(cloud: Any) -> None:
    from conftest import withhold_body

    robot = cloud.robot("admission-4", site_id="site-admission")
    server, port = _serve(cloud, ingest_max_pending=1)
    with server, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        first = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
        slow = withhold_body(port, robot, first)  # pending: being read
        try:
            deadline = time.monotonic() + 30
            while True:  # the withheld request counts once the server has parsed its headers
                second = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
                refused = _post(client, robot, second)
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                assert refused.status_code == 200, refused.text  # it came first: fine, try again with new events
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1" and refused.json()["type"].endswith("overloaded")
            stored_before = _telemetry_count(cloud, robot.robot_id)
            slow.sendall(first)
            assert slow.recv(65536).decode("latin-1").startswith("HTTP/1.1 200")
        finally:
            slow.close()
        assert _telemetry_count(cloud, robot.robot_id) == stored_before + 5  # the refused batch was not stored
        retried = _post(client, robot, second)  # sent again (re-signed), it is accepted now
        assert retried.status_code == 200 and retried.json()["accepted"] == 5, retried.text


def test_a_batch_that_waited_too_long_for_a_slot_is_refused_503(cloud: Any) -> None:
    import asyncio

    from sigma_cloud.core.db import make_pool
    from sigma_cloud.core.ingest import IngestRejected, IngestService

    async def scenario() -> tuple[int, str, int | None, int]:
        settings = Settings(**{**cloud.settings.model_dump(), "ingest_concurrency": 1, "ingest_queue_wait_s": 0.3})
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=1, timeout=5)
        await pool.open(wait=True)
        try:
            service = IngestService(settings, pool, ingest_pool=pool)

            async def body() -> bytes:
                return b"{}"

            async with service.admission(body) as held:  # the one slot, taken after its body
                assert held == b"{}"
                try:
                    async with service.admission(body):
                        raise AssertionError("a second batch got the only slot")
                except IngestRejected as exc:
                    return exc.status, exc.kind, exc.retry_after, service.waiting
            raise AssertionError("unreachable")
        finally:
            await pool.close()

    status, kind, retry_after, waiting = asyncio.run(scenario())
    assert (status, kind, retry_after, waiting) == (503, "overloaded", 1, 0)


def test_ingest_has_its_own_connections_one_per_slot(cloud: Any) -> None:
    import asyncio

    from sigma_cloud.core.db import make_pool
    from sigma_cloud.core.ingest import IngestService

    async def scenario() -> tuple[int, int]:
        settings = Settings(**{**cloud.settings.model_dump(), "ingest_concurrency": 2})
        api = make_pool(cloud.runtime.api_url, min_size=1, max_size=1, timeout=5)
        ingest = make_pool(cloud.runtime.api_url, min_size=1, max_size=settings.ingest_concurrency, timeout=5)
        await api.open(wait=True)
        await ingest.open(wait=True)
        try:
            service = IngestService(settings, api, ingest_pool=ingest)
            robot = cloud.robot("admission-2", site_id="site-admission")
            async with api.connection():  # the API's only connection is taken (a long-poll, say) ...
                key = await asyncio.wait_for(service.device_key(robot.robot_id, time.time(), service.ingest_pool), 5)
                _, hwm = await asyncio.wait_for(service._scorer(robot.robot_id), 5)  # ... ingest still proceeds
            return service.concurrency, hwm if key.status == "active" else -1
        finally:
            await ingest.close()
            await api.close()

    concurrency, hwm = asyncio.run(scenario())
    assert concurrency == 2 and hwm >= 0


def test_gated_pool_serves_thousands_of_concurrent_checkouts_and_times_out_like_the_pool(cloud: Any) -> None:
    import asyncio

    from psycopg_pool import PoolTimeout

    from sigma_cloud.core.db import make_pool

    async def scenario() -> tuple[int, bool]:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2, timeout=120)
        await pool.open(wait=True)
        try:
            async def one() -> int:
                async with pool.connection() as conn:
                    return (await (await conn.execute("SELECT 1")).fetchone())[0]

            served = sum(await asyncio.gather(*(one() for _ in range(3000))))  # a fleet's burst of long-polls
            async with pool.connection(), pool.connection():  # both connections taken: a third caller times out
                try:
                    async with pool.connection(timeout=0.3):
                        timed_out = False
                except PoolTimeout:
                    timed_out = True
            return served, timed_out
        finally:
            await pool.close()

    served, timed_out = asyncio.run(scenario())
    assert served == 3000 and timed_out
