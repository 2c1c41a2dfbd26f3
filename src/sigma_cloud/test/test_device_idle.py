"""Per-robot idle cost (issue 16, migration 0072): an idle long-poll reads nothing from the database, a cached device
key is kept until its robot's NOTIFY (not re-read every TTL), and long-poll nonces are claimed in group commits with
the same replay rule. Real server, real PostgreSQL; the app is built here so its state can be inspected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from conftest import ServerThread

import sigma_protocol as protocol
from sigma_cloud.api.routes import devices as device_routes
from sigma_cloud.core.db import make_pool
from sigma_cloud.core.embedded import free_port
from sigma_cloud.core.group_call import key_reads, nonce_claims
from sigma_cloud.core.notifier import CHANNEL, DecisionNotifier


def _until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def idle_app(cloud: Any) -> Iterator[tuple[Any, httpx.Client]]:
    """An app whose key TTL is zero: any key kept between requests is kept by the NOTIFY rule, not the TTL."""
    from sigma_cloud.app.main import create_app

    settings = cloud.settings.model_copy(update={"key_cache_ttl_s": 0.0})
    app = create_app(settings, cloud.runtime, run_maintenance=False)
    port = free_port()
    with ServerThread(app, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        _until(lambda: app.state.notifier.connected, "the listener")
        yield app, client


def _get(client: httpx.Client, robot: Any, path: str) -> httpx.Response:
    return client.get(path, headers=protocol.sign_request(robot.seed, "GET", path, robot.robot_id, b"", time.time()))


def _registered(app: Any, cloud: Any, robot_id: str) -> Any:
    """Register a robot and wait until this process has seen its key notification: one arriving after a poll
    read the key drops it from the cache (a conservative invalidation, not a fault) and would be counted here."""
    seen = app.state.notifier.key_changes
    robot = cloud.robot(robot_id)
    _until(lambda: app.state.notifier.key_changes > seen, f"{robot_id}'s registration notification")
    return robot


def test_idle_long_polls_read_no_decisions_and_keep_the_key(cloud: Any, idle_app: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app, client = idle_app
    robot = _registered(app, cloud, "idle-1")
    reads: list[str] = []
    original = device_routes.decisions.pending_for

    async def counting(conn: Any, *, robot_id: str) -> list[dict[str, Any]]:
        reads.append(robot_id)
        return await original(conn, robot_id=robot_id)

    monkeypatch.setattr(device_routes.decisions, "pending_for", counting)
    path = protocol.DECISIONS_PATH.format(robot_id="idle-1")
    key_reads = app.state.ingest.key_reads
    for _ in range(5):
        assert _get(client, robot, path).json() == {"decisions": []}
    assert reads == [] and app.state.ingest.key_reads == key_reads + 1  # one key read, no decision read
    # A decision made while nobody polls is still found: its NOTIFY marks the robot.
    made = cloud.http.post("/v1/decisions", headers=cloud.token(), json={
        "robot_id": "idle-1", "action": "dock", "confidence": 0.9, "ttl_s": 60, "parameters": {}})
    assert made.status_code == 201, made.text
    _until(lambda: "idle-1" in app.state.notifier.pending, "the decision's NOTIFY")
    (item,) = _get(client, robot, path).json()["decisions"]
    assert item["decision_id"] == made.json()["decision_id"] and reads == ["idle-1"]
    ack = protocol.DECISION_ACK_PATH.format(robot_id="idle-1", decision_id=item["decision_id"])
    body = protocol.encode_decision_ack("applied")
    signed = protocol.sign_request(robot.seed, "POST", ack, "idle-1", body, time.time())
    assert client.post(ack, content=body, headers=signed).status_code == 200
    assert _get(client, robot, path).json() == {"decisions": []}  # read once more, finds none: forgotten
    assert "idle-1" not in app.state.notifier.pending
    assert _get(client, robot, path).json() == {"decisions": []} and reads == ["idle-1"] * 2


def test_a_decommission_takes_effect_at_once_through_notify(cloud: Any, idle_app: Any) -> None:
    app, client = idle_app
    robot = _registered(app, cloud, "idle-2")
    path = protocol.DECISIONS_PATH.format(robot_id="idle-2")
    assert _get(client, robot, path).status_code == 200
    assert "idle-2" in app.state.ingest.keys
    gone = cloud.http.post("/v1/robots/idle-2/decommission", headers=cloud.token())
    assert gone.status_code == 200
    _until(lambda: "idle-2" not in app.state.ingest.keys, "the key notification")
    refused = _get(client, robot, path)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/decommissioned")


def test_long_poll_replay_is_refused_with_group_committed_nonces(cloud: Any, idle_app: Any) -> None:
    _, client = idle_app
    robot = cloud.robot("idle-3")
    path = protocol.DECISIONS_PATH.format(robot_id="idle-3")
    headers = protocol.sign_request(robot.seed, "GET", path, "idle-3", b"", time.time())
    assert client.get(path, headers=headers).status_code == 200
    replay = client.get(path, headers=headers)
    assert replay.status_code == 409 and replay.json()["type"].endswith("/replay")
    assert cloud.http.get(path, headers=headers).status_code == 409  # another replica shares the database's record


def test_concurrent_claims_and_key_reads_share_statements(cloud: Any) -> None:
    known = cloud.robot("idle-4")

    async def run() -> tuple[list[bool], int, list[Any], int]:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
        await pool.open(wait=True)
        try:
            claims = nonce_claims(pool)
            nonces = [f"n{i:04d}" for i in range(300)] + ["n0007", "n0150"]  # two replays in the same burst
            results = await asyncio.gather(*(claims(("idle-4", n)) for n in nonces))
            again = await claims(("idle-4", "n0299"))  # a later replay
            keys = key_reads(pool, window_s=0.05)
            rows = await asyncio.gather(*(keys(r) for r in ["idle-4", "nobody-here", "idle-4"] * 100))
            return [*results, again], claims.flushes, rows, keys.flushes
        finally:
            await pool.close()

    results, flushes, rows, key_flushes = asyncio.run(run())
    assert results[:300] == [True] * 300 and results[300:] == [False, False, False]
    assert flushes <= 3  # the burst in one or two statements, then the replay
    assert rows[0] == (known.public_key, "site-a", "active") and rows[1] is None and rows[2] == rows[0]
    assert len(rows) == 300 and set(rows[3::3]) == {rows[0]} and key_flushes == 1


def _note(robot_id: str) -> Any:
    return SimpleNamespace(channel=CHANNEL, payload=robot_id)


def test_a_notify_during_a_read_keeps_the_robot_marked() -> None:
    notifier = DecisionNotifier("postgresql://unused")
    notifier._set_connected(True)
    notifier.pending = {"r1"}
    token = notifier.notes("r1")
    notifier._dispatch(_note("r1"))  # a decision committed after the read's snapshot
    notifier.settled("r1", token)  # the read found nothing: it must not forget the robot
    assert notifier.may_have_pending("r1")
    token = notifier.notes("r1")
    notifier.settled("r1", token)
    assert not notifier.may_have_pending("r1")
    stale = notifier.notes("r2")
    notifier._dispatch(_note("r2"))
    notifier.settled("r2", notifier.notes("r2"))  # another read, after the NOTIFY, found none (e.g. acked)
    notifier._dispatch(_note("r2"))
    notifier.settled("r2", stale)  # a read that began before both NOTIFYs may not forget the newer one
    assert notifier.may_have_pending("r2")
    notifier._set_connected(False)  # listener down: nothing is trusted, every poll reads
    assert notifier.may_have_pending("r1") and notifier.may_have_pending("anyone")
