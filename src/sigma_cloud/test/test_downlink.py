"""Downlink: robots fetch (long-poll) decisions addressed to them, acknowledge them; expiry and auth enforced."""

from __future__ import annotations

import threading
import time
import uuid

import orjson

import sigma_protocol as protocol


def _decide(cloud, robot_id: str, ttl_s: float = 60, action: str = "dock") -> str:
    r = cloud.http.post("/v1/decisions", headers=cloud.token(), json={
        "robot_id": robot_id, "action": action, "confidence": 0.8, "ttl_s": ttl_s, "parameters": {"station": "d3"}})
    assert r.status_code == 201, r.text
    return r.json()["decision_id"]


def test_fetch_ack_and_idempotency(cloud) -> None:
    robot = cloud.robot("dl-1")
    path = protocol.DECISIONS_PATH.format(robot_id="dl-1")
    assert cloud.device_get(robot, path).json() == {"decisions": []}
    decision_id = _decide(cloud, "dl-1")
    (decision,) = protocol.decode_decisions(cloud.device_get(robot, path).content)
    assert decision.decision_id == decision_id and decision.parameters == {"station": "d3"}
    assert not decision.expired(time.time()) and decision.deadline > time.time() + 50
    ack_path = protocol.DECISION_ACK_PATH.format(robot_id="dl-1", decision_id=decision_id)
    body = protocol.encode_decision_ack("applied", "docked", time.time())
    first = cloud.device_post(robot, ack_path, body)
    assert first.status_code == 200 and first.json()["status"] == "applied"
    assert cloud.device_post(robot, ack_path, body).status_code == 200  # same status again: idempotent
    conflict = cloud.device_post(robot, ack_path, protocol.encode_decision_ack("rejected"))
    assert conflict.status_code == 409
    assert cloud.device_get(robot, path).json() == {"decisions": []}
    fleet_view = cloud.http.get(f"/v1/decisions/{decision_id}", headers=cloud.token()).json()
    assert fleet_view["status"] == "applied" and fleet_view["ack_detail"] == "docked"


def test_ack_refuses_a_replayed_request_and_an_unknown_decision_and_changes_nothing(cloud) -> None:
    """The ack's nonce, status lock, update and read-back go in a pipeline (two round trips): a replay of the same
    signed request is still refused as one, and a refused ack leaves the decision as it was."""
    robot = cloud.robot("dl-ack-replay")
    decision_id = _decide(cloud, "dl-ack-replay")
    ack_path = protocol.DECISION_ACK_PATH.format(robot_id="dl-ack-replay", decision_id=decision_id)
    body = protocol.encode_decision_ack("applied", "held", time.time())
    signed = protocol.sign_request(robot.seed, "POST", ack_path, robot.robot_id, body, time.time())
    first = cloud.http.post(ack_path, content=body, headers=signed)
    assert first.status_code == 200 and first.json()["status"] == "applied" and first.json()["decision_id"]
    replay = cloud.http.post(ack_path, content=body, headers=signed)
    assert replay.status_code == 409 and "nonce" in replay.text
    unknown = protocol.DECISION_ACK_PATH.format(robot_id="dl-ack-replay", decision_id=str(uuid.uuid4()))
    assert cloud.device_post(robot, unknown, body).status_code == 404
    fleet_view = cloud.http.get(f"/v1/decisions/{decision_id}", headers=cloud.token()).json()
    assert fleet_view["status"] == "applied" and fleet_view["ack_detail"] == "held"


def test_long_poll_wakes_on_new_decision(cloud) -> None:
    robot = cloud.robot("dl-2")
    path = protocol.DECISIONS_PATH.format(robot_id="dl-2") + "?wait=10"
    result: dict = {}

    def poll() -> None:
        start = time.monotonic()
        result["response"] = cloud.device_get(robot, path)
        result["elapsed"] = time.monotonic() - start

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # let the poll reach its wait; the decision must then arrive through NOTIFY, not the timeout
    decision_id = _decide(cloud, "dl-2", action="hold")
    poller.join(timeout=15)
    assert result["response"].status_code == 200
    assert [d["decision_id"] for d in result["response"].json()["decisions"]] == [decision_id]
    assert result["elapsed"] < 5.0


def test_expired_decisions_are_not_delivered(cloud) -> None:
    robot = cloud.robot("dl-3")
    _decide(cloud, "dl-3", ttl_s=0.2)
    time.sleep(0.4)
    assert cloud.device_get(robot, protocol.DECISIONS_PATH.format(robot_id="dl-3")).json() == {"decisions": []}


def test_downlink_requires_the_robots_own_signature(cloud) -> None:
    robot = cloud.robot("dl-4")
    other = cloud.robot("dl-5")
    decision_id = _decide(cloud, "dl-4")
    path = protocol.DECISIONS_PATH.format(robot_id="dl-4")
    assert cloud.device_get(other, path).status_code == 403
    assert cloud.http.get(path).status_code == 401
    headers = protocol.sign_request(robot.seed, "GET", path, "dl-4", b"", time.time())
    assert cloud.http.get(path, headers=headers).status_code == 200
    replay = cloud.http.get(path, headers=headers)
    assert replay.status_code == 409
    ack_path = protocol.DECISION_ACK_PATH.format(robot_id="dl-4", decision_id=decision_id)
    wrong = protocol.DECISION_ACK_PATH.format(robot_id="dl-5", decision_id=decision_id)
    assert cloud.device_post(other, wrong, protocol.encode_decision_ack("applied")).status_code == 404
    assert cloud.device_post(robot, ack_path, orjson.dumps({"status": "done"})).status_code == 400
