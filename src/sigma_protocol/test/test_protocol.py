"""Device protocol: signing, verification, batch validation (pure, no I/O)."""

import orjson
import pytest

import sigma_protocol as p

NOW = 1_800_000_000.0


def _event(seq: int, channel: str = "battery", **payload: object) -> dict:
    return {"seq": seq, "ts": NOW - 1.0, "channel": channel, "payload": payload or {"voltage": 48.1}}


def test_sign_verify_roundtrip_and_tamper() -> None:
    seed, public = p.generate_keypair()
    body = p.encode_batch("r1", [_event(1)])
    headers = p.sign_request(seed, "POST", p.INGEST_PATH, "r1", body, NOW)
    auth = p.parse_auth_headers(headers)
    key = p.load_verify_key(public)
    p.verify_request(key, auth, "POST", p.INGEST_PATH, body, NOW)
    with pytest.raises(p.ProtocolError) as bad:
        p.verify_request(key, auth, "POST", p.INGEST_PATH, body + b" ", NOW)
    assert bad.value.kind == "bad-signature"
    with pytest.raises(p.ProtocolError) as stale:
        p.verify_request(key, auth, "POST", p.INGEST_PATH, body, NOW + 301)
    assert stale.value.kind == "stale-request" and stale.value.status == 401
    other = p.load_verify_key(p.generate_keypair()[1])
    with pytest.raises(p.ProtocolError):
        p.verify_request(other, auth, "POST", p.INGEST_PATH, body, NOW)


def test_fresh_nonce_per_attempt_and_header_errors() -> None:
    seed, _ = p.generate_keypair()
    a = p.sign_request(seed, "GET", "/x", "r1", b"", NOW)
    b = p.sign_request(seed, "GET", "/x", "r1", b"", NOW)
    assert a[p.HEADER_NONCE] != b[p.HEADER_NONCE]
    broken = dict(a)
    del broken[p.HEADER_SIGNATURE]
    with pytest.raises(p.ProtocolError, match="missing header X-Sigma-Signature"):
        p.parse_auth_headers(broken)
    with pytest.raises(p.ProtocolError, match="robot id"):
        p.parse_auth_headers({**a, p.HEADER_ROBOT: "Bad Robot"})


def test_load_verify_key_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        p.load_verify_key(p.b64encode(b"x" * 31))
    with pytest.raises(ValueError, match="base64"):
        p.load_verify_key("not base64!!")


def test_validate_batch_collects_precise_errors() -> None:
    events = [
        _event(1),
        _event(1),  # seq not increasing
        {"seq": 3, "ts": NOW, "channel": "warp_drive", "payload": {}},
        _event(4, "joint_states", name=["a", "b"], position=[0.1, "x"]),
        _event(5, "joint_states", name=["a", "b"], position=[0.1, 0.2, 0.3]),
        {"seq": 6, "ts": NOW - 10 * 86400, "channel": "imu", "payload": {}},
    ]
    _, errors = p.validate_batch({"robot_id": "r1", "events": events}, "r1", NOW, max_age_s=86400)
    found = {(e.index, e.field) for e in errors}
    assert found == {(1, "seq"), (2, "channel"), (3, "payload.position[1]"), (4, "payload.position"), (5, "ts")}
    assert errors[0].to_json()["seq"] == 1


def test_validate_batch_level_errors() -> None:
    with pytest.raises(p.ProtocolError) as mismatch:
        p.validate_batch({"robot_id": "r2", "events": [_event(1)]}, "r1", NOW, 86400)
    assert mismatch.value.status == 403
    with pytest.raises(p.ProtocolError) as big:
        p.validate_batch({"robot_id": "r1", "events": [_event(i + 1) for i in range(5)]}, "r1", NOW, 86400,
                         max_events=4)
    assert big.value.status == 413
    with pytest.raises(p.ProtocolError):
        p.validate_batch(["not", "an", "object"], "r1", NOW, 86400)


def test_decisions_roundtrip_and_expiry() -> None:
    body = orjson.dumps({"decisions": [{"decision_id": "d1", "robot_id": "r1", "source": 0, "confidence": 0.9,
                                        "action": "dock", "parameters": {"x": 1.5}, "created_at": NOW,
                                        "deadline": NOW + 5}]})
    (decision,) = p.decode_decisions(body)
    assert decision.parameters == {"x": "1.5"}
    assert not decision.expired(NOW + 5) and decision.expired(NOW + 5.01)
    assert orjson.loads(p.encode_decision_ack("applied", applied_at=NOW))["status"] == "applied"
    with pytest.raises(ValueError):
        p.encode_decision_ack("done")
    assert p.is_retryable(503) and not p.is_retryable(422)
