"""PostgreSQL restarted during ingest: clients retry per the protocol and the final row count is exact."""

from __future__ import annotations

import threading
import time

import httpx
import psycopg

import sigma_protocol as protocol

BATCHES = 40
BATCH = 50


def _send_all(cloud, robot, outcomes: dict) -> None:
    """A protocol-following client: each batch is retried (re-signed) until acknowledged."""
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        for _ in range(BATCHES):
            body = protocol.encode_batch(robot.robot_id, robot.events(BATCH, time.time()))
            while True:
                headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body,
                                                time.time())
                try:
                    r = client.post(protocol.INGEST_PATH, content=body, headers=headers)
                except httpx.HTTPError:
                    outcomes["errors"] += 1
                    time.sleep(0.1)
                    continue
                if r.status_code == 200:
                    outcomes["duplicates"] += r.json()["duplicates"]
                    break
                assert protocol.is_retryable(r.status_code), r.text
                outcomes["retries"] += 1
                time.sleep(0.1)
            time.sleep(0.02)


def test_restart_during_ingest_loses_and_duplicates_nothing(cloud) -> None:
    robots = [cloud.robot(f"restart-{i}") for i in range(3)]
    outcomes = {"errors": 0, "retries": 0, "duplicates": 0}
    senders = [threading.Thread(target=_send_all, args=(cloud, robot, outcomes)) for robot in robots]
    for sender in senders:
        sender.start()
    time.sleep(0.4)
    cloud.server.stop("fast")  # in-flight transactions abort; pooled connections break
    time.sleep(2.5)  # longer than the pool's wait: requests in the gap are answered 503 and retried
    cloud.server.start()
    for sender in senders:
        sender.join(timeout=120)
        assert not sender.is_alive()
    assert outcomes["retries"] + outcomes["errors"] > 0, "the restart should have been noticed by the clients"
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        for robot in robots:
            count, distinct, top = conn.execute(
                "SELECT count(*), count(DISTINCT seq), max(seq) FROM telemetry WHERE robot_id = %s",
                (robot.robot_id,)).fetchone()
            assert (count, distinct, top) == (BATCHES * BATCH, BATCHES * BATCH, BATCHES * BATCH)
    deadline = time.monotonic() + 30  # the pool may still be reconnecting on a loaded host: a condition, not a sleep
    while cloud.http.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not become ready again after the restart"
        time.sleep(0.2)
