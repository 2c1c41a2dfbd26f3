"""Uplink bodies and answers, decision filtering, and the robot key file."""

from __future__ import annotations

import os
import random

import httpx
import orjson
import pytest

import sigma_protocol as protocol
from sigma_bridge.downlink import DecisionFilter
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.store import StoredEvent
from sigma_bridge.uplink import Backoff, batch_body, classify, columnar_body


def test_batch_body_is_a_valid_protocol_batch():
    events = [StoredEvent(1, 100 + i, 1_800_000_000.0 + i, "imu", 1, 0.0,
                          orjson.dumps({"orientation": [0, 0, 0, 1]})) for i in range(3)]
    body = batch_body("r1", events)
    decoded, errors = protocol.validate_batch(orjson.loads(body), "r1", now=1_800_000_001.0, max_age_s=3600)
    assert errors == [] and [e["seq"] for e in decoded] == [100, 101, 102]


def test_answers_follow_the_protocol_retry_table():
    ok = classify(200, b'{"robot_id":"r1","accepted":3,"duplicates":1,"acked_through":42}')
    assert (ok.kind, ok.acked_through, ok.duplicates) == ("acked", 42, 1)
    assert classify(503, b"{}", {"Retry-After": "2"}).retry_after == 2.0
    assert classify(503, b"").kind == "retry"
    assert classify(409, b'{"type":"https://sigmaprompt.dev/problems/replay"}').kind == "retry"
    assert classify(401, b'{"type":"https://sigmaprompt.dev/problems/stale-request"}').kind == "retry"
    assert classify(401, b'{"type":"https://sigmaprompt.dev/problems/bad-signature"}').kind == "fatal"
    assert classify(413, b"{}").kind == "split"
    rej = classify(422, orjson.dumps({"errors": [{"index": 0, "seq": 7, "field": "ts", "message": "x"},
                                                 {"index": 1, "seq": 7, "field": "seq", "message": "y"}]}))
    assert (rej.kind, rej.reject_seqs) == ("reject", (7,))


def test_backoff_grows_respects_hint_and_resets():
    b = Backoff(base=0.1, cap=5.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(10)]
    assert all(0 <= d <= 5.0 for d in delays)
    assert b.next_delay(hint=7.0) == 7.0
    b.reset()
    assert b.attempt == 0


def decision(**kw) -> protocol.Decision:
    base = {"decision_id": "d1", "robot_id": "r1", "source": 0, "confidence": 0.9, "action": "dock",
            "parameters": {"station": "d3"}, "created_at": 100.0, "deadline": 130.0}
    return protocol.Decision.from_json(base | kw)


def test_decision_filter_relays_once_and_never_after_deadline():
    f = DecisionFilter("r1")
    v = f.check(decision(), now=110.0)
    assert v.action == "relay" and f.ack_status(v) == "applied"
    assert f.check(decision(), now=111.0).action == "repeat"  # fetched again before the ack landed
    assert f.check(decision(decision_id="d2", deadline=105.0), now=110.0).action == "expired"
    assert f.check(decision(decision_id="d3", robot_id="r2"), now=110.0).action == "rejected"
    assert f.check(decision(decision_id="d4", confidence=1.5), now=110.0).action == "rejected"
    assert f.check(decision(decision_id="d5", source=9), now=110.0).action == "rejected"


def test_key_is_created_0600_reused_and_refused_when_readable(tmp_path):
    path = tmp_path / "var" / "robot.key"
    k1 = load_or_create_signing_key(path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert bytes(load_or_create_signing_key(path)) == bytes(k1)
    assert protocol.public_key_of(path.read_text().strip()) == public_key_b64(k1)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_signing_key(path)
    os.chmod(path, 0o600)
    path.write_text("not-base64!")
    with pytest.raises(ValueError, match="base64"):
        load_or_create_signing_key(path)


def test_columnar_body_carries_the_same_events_and_unreadable_payloads_go_as_rows():
    events = [StoredEvent(1, 100 + i, 1_800_000_000.0 + i, "joint_states", 1, 0.0,
                          orjson.dumps({"name": ["hip"], "position": [0.1 * i], "velocity": [i]})) for i in range(3)]
    rows = orjson.loads(batch_body("r1", events))["events"]
    assert protocol.columnar_events(orjson.loads(columnar_body("r1", events))) == rows
    corrupt = [*events, StoredEvent(4, 200, 1_800_000_000.0, "joint_states", 1, 0.0, b'{"name": ["\xff"]}')]
    with pytest.raises(protocol.NotColumnarError):
        columnar_body("r1", corrupt)


class _OldCloud(httpx.BaseTransport):
    """A fake cloud of before batch format 2 (named as such: none of that revision can run in this test): it reads
    every body as rows, so a columnar body is a 400; it advertises nothing."""

    def __init__(self) -> None:
        self.content_types: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.content_types.append(request.headers["content-type"])
        data = orjson.loads(request.content)
        if "events" not in data:
            return httpx.Response(400, json={"type": "x/malformed-batch", "detail": "body must be rows"})
        return httpx.Response(200, json={"robot_id": "r1", "accepted": len(data["events"]), "duplicates": 0,
                                         "acked_through": data["events"][-1]["seq"]},
                              headers={protocol.HEADER_BATCH_FORMATS: "1, 2"})


def test_client_sends_columns_only_after_the_cloud_named_them_and_falls_back_for_good():
    from nacl.signing import SigningKey

    from sigma_bridge.uplink import UplinkClient

    client = UplinkClient("http://cloud.invalid", "r1", SigningKey.generate())
    old = _OldCloud()
    client._http = httpx.Client(base_url="http://cloud.invalid", transport=old)
    events = [StoredEvent(1, 1, 1_800_000_000.0, "battery", 1, 0.0, orjson.dumps({"voltage": 48.0}))]
    assert client.send_batch(events, 1_800_000_000.0).kind == "acked"
    assert client.batch_format == protocol.BATCH_FORMAT_COLUMNAR  # the answer named format 2
    # This fake still cannot read columns: the batch is resent as rows at once, and rows stay
    assert client.send_batch(events, 1_800_000_000.0).kind == "acked"
    assert client.send_batch(events, 1_800_000_000.0).kind == "acked"
    assert old.content_types == ["application/json", protocol.CONTENT_TYPE_COLUMNAR, "application/json",
                                 "application/json"]
    client.close()
