"""Pure regression tests for the adversarial review (issue 18) at the protocol level, one per finding."""

from __future__ import annotations

import pytest

import sigma_protocol as protocol
from sigma_protocol import channels

NOW = 1_800_000_000


def _headers(**change: str) -> dict[str, str]:
    seed, _ = protocol.generate_keypair()
    headers = protocol.sign_request(seed, "POST", protocol.INGEST_PATH, "r1", b"{}", NOW)
    return {**headers, **change}


def test_finding5_malformed_auth_headers_raise_protocol_errors_not_crashes() -> None:
    bad = {
        protocol.HEADER_SIGNATURE: [protocol.b64encode(b"\x00" * n) for n in (0, 32, 63, 65, 4000)],
        protocol.HEADER_TIMESTAMP: ["9" * 5000, "²", "\u0661\u0667\u0660\u0660", "-1", "1.5", " 17", "1" * 13],
        protocol.HEADER_NONCE: ["a" * 31, "A" * 32, "é" * 32, "a" * 32 + "\n"],
        protocol.HEADER_ROBOT: ["r1\n", "R1", "", "x" * 64],
    }
    for header, values in bad.items():
        for value in values:
            with pytest.raises(protocol.ProtocolError) as err:
                protocol.parse_auth_headers(_headers(**{header: value}))
            assert err.value.status == 401, (header, value)
    auth = protocol.parse_auth_headers(_headers())
    assert len(auth.signature) == 64 and auth.timestamp == NOW


def test_finding2_payloads_are_validated_against_the_channel_schema() -> None:
    ok = {"level": 3, "previous_level": 0, "sequence": 7, "cause": "e-stop", "recording": "/x.mcap",
          "raised": [{"code": 3, "rule": "r", "source": "s", "cause": "c", "severity": 2, "latched": True,
                      "value": None, "limit": 0.5, "since": 1.0}], "cleared": []}
    assert protocol.validate_payload("safety_event", ok) == []
    refused = [
        {**ok, "extra": int("9" * 200)},  # unknown field (any value)
        {**ok, "cause": [[[]]]},  # nesting where a string belongs
        {**ok, "level": 1e300},  # out of range
        {**ok, "level": 256},
        {**ok, "cause": "x" * (channels.MAX_TEXT_CHARS + 1)},
        {**ok, "raised": [{"code": 3, "detail": {"deep": [1]}}]},  # unknown fault field
        {**ok, "raised": [{"code": "3"}]},
        {**ok, "raised": [{}] * (channels.MAX_FAULTS + 1)},
    ]
    for payload in refused:
        assert protocol.validate_payload("safety_event", payload), payload
    joints = {"name": ["a"] * 300, "position": [0.0] * 300}
    assert protocol.validate_payload("joint_states", joints)
    assert protocol.validate_payload("battery", {"voltage": 2e6}) != []
    assert protocol.validate_payload("battery", {"voltage": 48100, "units": {"voltage": "mV"}}) == []
    assert protocol.validate_payload("battery", {"voltage": 48.0, "units": {"colour": "mV"}}) != []
