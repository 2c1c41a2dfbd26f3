"""Two API replicas against one PostgreSQL share everything: state lives in the database, and a decision created on
replica B wakes a robot long-polling replica A (LISTEN/NOTIFY), so replicas scale out behind one Service."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ServerThread

import sigma_protocol as protocol
from sigma_cloud.core.embedded import free_port


@pytest.fixture(scope="module")
def replica_b(cloud: Any) -> Iterator[httpx.Client]:
    """A second app instance (its own pool, notifier and caches) on the same database as `cloud`."""
    from sigma_cloud.app.main import create_app

    port = free_port()
    with ServerThread(create_app(cloud.settings, cloud.runtime, run_maintenance=False), port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def test_decision_created_on_b_wakes_a_long_poll_on_a(cloud: Any, replica_b: httpx.Client) -> None:
    robot = cloud.robot("replica-1")
    path = protocol.DECISIONS_PATH.format(robot_id=robot.robot_id) + "?wait=20"
    result: dict[str, Any] = {}

    def poll() -> None:
        start = time.monotonic()
        result["response"] = cloud.device_get(robot, path)  # replica A
        result["elapsed"] = time.monotonic() - start

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # the poll must be waiting, so only NOTIFY (not a re-query at the start) can deliver it
    created = replica_b.post("/v1/decisions", headers=cloud.token(), json={
        "robot_id": robot.robot_id, "action": "hold", "confidence": 0.9, "ttl_s": 30, "parameters": {}})
    assert created.status_code == 201, created.text
    poller.join(timeout=30)
    assert not poller.is_alive()
    response = result["response"]
    assert response.status_code == 200, response.text
    assert [d["decision_id"] for d in response.json()["decisions"]] == [created.json()["decision_id"]]
    assert result["elapsed"] < 10.0, "woken by the notification, well before the 20 s poll timeout"


def test_ingest_through_either_replica_keeps_one_sequence(cloud: Any, replica_b: httpx.Client) -> None:
    robot = cloud.robot("replica-2")
    first = cloud.post_batch(robot, robot.events(5, time.time()))
    assert first.status_code == 200 and first.json()["acked_through"] == 5
    body = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
    signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    second = replica_b.post(protocol.INGEST_PATH, content=body, headers={**signed, "Content-Type": "application/json"})
    assert second.status_code == 200, second.text
    assert second.json()["acked_through"] == 10 and second.json()["accepted"] == 5
    # a resend of the first batch through B is recognised as duplicate (the high-water mark is in the database)
    resend = [{"seq": seq, "ts": time.time() - 1, "channel": "battery",
               "payload": {"voltage": 48.0, "current": 1.0, "percentage": 0.5}} for seq in range(1, 6)]
    replay = protocol.encode_batch(robot.robot_id, resend)
    signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, replay, time.time())
    again = replica_b.post(protocol.INGEST_PATH, content=replay, headers={**signed, "Content-Type": "application/json"})
    assert again.status_code == 200 and again.json()["accepted"] == 0 and again.json()["duplicates"] == 5
