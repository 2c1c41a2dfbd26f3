"""End-to-end ingest over real HTTP into the real embedded PostgreSQL."""

from __future__ import annotations

import time

import psycopg

import sigma_protocol as protocol


def _count(cloud, robot_id: str, table: str = "telemetry") -> int:
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE robot_id = %s", (robot_id,)).fetchone()[0]


def _problem(r) -> dict:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.json()


def test_batch_is_stored_scored_and_acked(cloud) -> None:
    robot = cloud.robot("ing-1")
    now = time.time()
    events = robot.events(40, now) + robot.events(10, now, channel="joint_states")
    r = cloud.post_batch(robot, events)
    assert r.status_code == 200, r.text
    assert r.json() == {"robot_id": "ing-1", "accepted": 50, "duplicates": 0, "acked_through": 50}
    assert _count(cloud, "ing-1") == 50
    # An outlier after warm-up gets a high anomaly score; normal values stay low.
    spike = robot.events(1, now)
    spike[0]["payload"]["voltage"] = 80.0
    assert cloud.post_batch(robot, spike).status_code == 200
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        scores = dict(conn.execute("SELECT seq, score FROM telemetry WHERE robot_id = 'ing-1'").fetchall())
    assert scores[51] > 10.0
    assert max(scores[s] for s in range(25, 41)) < 5.0
    latest = cloud.http.get("/v1/robots/ing-1/latest", headers=cloud.token()).json()
    by_channel = {c["channel"]: c for c in latest["channels"]}
    assert by_channel["battery"]["seq"] == 51 and by_channel["joint_states"]["seq"] == 50


def test_retry_is_idempotent(cloud) -> None:
    robot = cloud.robot("ing-retry")
    events = robot.events(30, time.time())
    assert cloud.post_batch(robot, events).json()["accepted"] == 30
    again = cloud.post_batch(robot, events)  # same events, freshly signed: a client retry after a lost ack
    assert again.status_code == 200
    assert again.json() == {"robot_id": "ing-retry", "accepted": 0, "duplicates": 30, "acked_through": 30}
    overlap = events[20:] + robot.events(5, time.time())
    assert cloud.post_batch(robot, overlap).json() == {"robot_id": "ing-retry", "accepted": 5, "duplicates": 10,
                                                       "acked_through": 35}
    assert _count(cloud, "ing-retry") == 35


def test_replayed_request_is_rejected(cloud) -> None:
    robot = cloud.robot("ing-replay")
    body = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
    headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    assert cloud.http.post(protocol.INGEST_PATH, content=body, headers=headers).status_code == 200
    replay = cloud.http.post(protocol.INGEST_PATH, content=body, headers=headers)
    assert replay.status_code == 409 and _problem(replay)["type"].endswith("/replay")
    stale = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time() - 600)
    old = cloud.http.post(protocol.INGEST_PATH, content=body, headers=stale)
    assert old.status_code == 401 and _problem(old)["type"].endswith("/stale-request")
    assert _count(cloud, "ing-replay") == 5


def test_forged_and_tampered_batches_are_rejected(cloud) -> None:
    robot = cloud.robot("ing-forge")
    other_seed, _ = protocol.generate_keypair()
    body = protocol.encode_batch(robot.robot_id, robot.events(5, time.time()))
    forged = protocol.sign_request(other_seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    r = cloud.http.post(protocol.INGEST_PATH, content=body, headers=forged)
    assert r.status_code == 401 and _problem(r)["type"].endswith("/bad-signature")
    signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    tampered = body.replace(b'"seq":1', b'"seq":7')
    assert cloud.http.post(protocol.INGEST_PATH, content=tampered, headers=signed).status_code == 401
    unsigned = cloud.http.post(protocol.INGEST_PATH, content=body)
    assert unsigned.status_code == 401 and "X-Sigma-Robot" in _problem(unsigned)["detail"]
    ghost_seed, _ = protocol.generate_keypair()
    ghost = protocol.sign_request(ghost_seed, "POST", protocol.INGEST_PATH, "ghost", body, time.time())
    assert _problem(cloud.http.post(protocol.INGEST_PATH, content=body, headers=ghost))["type"].endswith(
        "/bad-signature")  # the same answer as a wrong key: robot ids cannot be enumerated
    # Signed by one registered robot, claiming to be another in the body.
    other = cloud.robot("ing-forge-2")
    assert cloud.post_batch(other, [], body=body).status_code == 403
    assert _count(cloud, "ing-forge") == 0


def test_malformed_and_invalid_batches_store_nothing(cloud) -> None:
    robot = cloud.robot("ing-bad")
    assert _problem(cloud.post_batch(robot, [], body=b"{not json"))["status"] == 400
    events = robot.events(3, time.time())
    events[1]["payload"] = {"voltage": "high"}
    events[2]["channel"] = "warp"
    r = cloud.post_batch(robot, events)
    problem = _problem(r)
    assert r.status_code == 422 and problem["type"].endswith("/invalid-events")
    assert [(e["index"], e["seq"], e["field"]) for e in problem["errors"]] == [(1, 2, "payload.voltage"),
                                                                              (2, 3, "channel")]
    units = robot.events(1, time.time())
    units[0]["payload"] = {"voltage": 48000, "units": {"voltage": "furlong"}}
    assert _problem(cloud.post_batch(robot, units))["errors"][0]["field"] == "payload.units.voltage"
    assert _count(cloud, "ing-bad") == 0


def test_oversized_body_gets_413(cloud) -> None:
    robot = cloud.robot("ing-big")
    body = b"x" * (cloud.settings.max_body_bytes + 1)
    r = cloud.post_batch(robot, [], body=body)
    assert r.status_code == 413 and _problem(r)["type"].endswith("/body-too-large")


def test_unit_normalization_and_safety_events(cloud) -> None:
    robot = cloud.robot("ing-units")
    now = time.time()
    events = [
        {"seq": 1, "ts": now, "channel": "battery", "payload": {"voltage": 48100, "units": {"voltage": "mV"}}},
        {"seq": 2, "ts": now, "channel": "safety_event",
         "payload": {"sequence": 4, "previous_level": 0, "level": 2, "previous_authority": 0, "authority": 1,
                     "cause": "human within 0.4 m", "raised": [{"code": 3, "rule": "human_proximity", "value": 0.4}],
                     "cleared": [], "recording": ""}},
    ]
    assert cloud.post_batch(robot, events).status_code == 200
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        payload = conn.execute("SELECT payload FROM telemetry WHERE robot_id = 'ing-units' AND seq = 1").fetchone()[0]
    assert payload == {"voltage": 48.1}
    listed = cloud.http.get("/v1/safety-events", params={"robot_id": "ing-units"}, headers=cloud.token()).json()
    assert [(e["seq"], e["level"], e["cause"]) for e in listed["items"]] == [(2, 2, "human within 0.4 m")]


def test_decommissioned_robot_is_refused(cloud) -> None:
    robot = cloud.robot("ing-gone")
    assert cloud.post_batch(robot, robot.events(2, time.time())).status_code == 200
    r = cloud.http.post("/v1/robots/ing-gone/decommission", headers=cloud.token())
    assert r.status_code == 200 and r.json()["status"] == "decommissioned"
    refused = cloud.post_batch(robot, robot.events(2, time.time()))
    assert refused.status_code == 403 and _problem(refused)["type"].endswith("/decommissioned")
    assert _count(cloud, "ing-gone") == 2
