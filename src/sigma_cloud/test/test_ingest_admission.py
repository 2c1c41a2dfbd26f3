"""Ingest admission (issue 16, docs/cloud.md "Fleet scale"): at most `ingest_concurrency` batches of one API process
in work; a batch that waited `ingest_queue_wait_s` for its turn is answered 503 overloaded + Retry-After before its
body is read, and nothing of it is stored. A real server with one slot; the slot is held by a real client that sent
its headers and withholds its body (the slot is taken before the body is read)."""

from __future__ import annotations

import socket
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


def test_a_batch_that_waited_too_long_is_refused_503_before_its_body_is_read(cloud: Any) -> None:
    from conftest import ServerThread

    from sigma_cloud.app.main import create_app

    settings = Settings(**{**cloud.settings.model_dump(), "ingest_concurrency": 1, "ingest_queue_wait_s": 0.5})
    robot = cloud.robot("admission-1", site_id="site-admission")
    port = free_port()
    with ServerThread(create_app(settings, cloud.runtime, run_maintenance=False), port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        first = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
        signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, first, time.time())
        head = [f"POST {protocol.INGEST_PATH} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(first)}",
                "Content-Type: application/json", *(f"{k}: {v}" for k, v in signed.items())]
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            slow.sendall(("\r\n".join(head) + "\r\n\r\n").encode())  # the slot is taken; the body is withheld
            second = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
            deadline = time.monotonic() + 30
            while True:  # the withheld request reaches the app (and its slot) once the server has parsed it
                headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, second,
                                                time.time())
                refused = client.post(protocol.INGEST_PATH, content=second,
                                      headers={**headers, "Content-Type": "application/json"})
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                assert refused.status_code == 200, refused.text  # it came first: fine, try again with new events
                second = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["type"].endswith("overloaded")
            stored_before = _telemetry_count(cloud, robot.robot_id)
            slow.sendall(first)  # the held request completes: its batch is stored
            answer = slow.recv(65536).decode("latin-1")
            assert answer.startswith("HTTP/1.1 200"), answer[:300]
        finally:
            slow.close()
        assert _telemetry_count(cloud, robot.robot_id) == stored_before + 5
        # the refused batch was not stored; sent again (re-signed) it is accepted now that the slot is free
        headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, second,
                                        time.time())
        retried = client.post(protocol.INGEST_PATH, content=second,
                              headers={**headers, "Content-Type": "application/json"})
        assert retried.status_code == 200 and retried.json()["accepted"] == 5, retried.text


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
