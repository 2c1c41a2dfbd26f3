"""Fuzz pass over the device protocol (issue 18): hypothesis drives headers and bodies at the real server.

Thousands of requests to the three device routes, half of them correctly signed by a registered robot (so the body
reaches batch decoding, validation and the database), the rest with arbitrary, truncated or malformed
X-Sigma-* headers. Whatever arrives, the answer is never 5xx, and every error is problem+json.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigma_protocol as protocol

CASES = 1000  # per test; two tests: 2,000 requests in all (about 40 s here)
HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header_text = st.one_of(st.text(HEADER_CHARS, max_size=80), st.from_regex(r"[0-9]{1,30}", fullmatch=True),
                        st.sampled_from(["²", "9" * 5000, "-1", "0", "1e9", " 17", "\u0661"]))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=20)
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**20), 10**20))
payload = st.dictionaries(st.sampled_from(["name", "position", "velocity", "voltage", "level", "sequence", "units",
                                           "cause", "raised", "active_faults", "present", "frame_id", "nonfinite",
                                           "extra"]),
                          st.one_of(numbers, st.lists(numbers, max_size=4), st.lists(st.text(max_size=4), max_size=3),
                                    json_value), max_size=5)
event = st.fixed_dictionaries({"seq": st.one_of(st.integers(-2, 2**64), json_leaf),
                               "ts": st.one_of(st.just("now"), numbers, json_leaf),
                               "channel": st.one_of(st.sampled_from(list(protocol.CHANNELS)), st.text(max_size=8)),
                               "payload": st.one_of(payload, json_value)})


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()  # stdlib: integers beyond 64 bits are sent as such


def _body(kind: str, robot_id: str, events: list[dict], noise: bytes, depth: int) -> bytes:
    now = time.time()
    events = [{**e, "ts": now if e["ts"] == "now" else e["ts"]} for e in events]
    if kind == "batch":
        return _dumps({"robot_id": robot_id, "events": events})
    if kind == "deep":
        return b'{"robot_id": "%s", "events": [{"seq": 1, "ts": %f, "channel": "imu", "payload": {"x": %s%s}}]}' % (
            robot_id.encode(), now, b"[" * depth, b"]" * depth)
    if kind == "bytes":
        return noise
    return _dumps({"robot_id": robot_id, "events": events})[: max(1, len(noise))]  # truncated


def _check(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text[:200]


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.data_too_large])
@given(kind=st.sampled_from(["batch", "batch", "deep", "bytes", "truncated"]),
       events=st.lists(event, min_size=0, max_size=4), noise=st.binary(max_size=200),
       depth=st.integers(1, 3000), route=st.sampled_from(["ingest", "ingest", "poll", "ack"]))
def test_fuzz_signed_bodies_never_5xx(cloud, kind, events, noise, depth, route) -> None:
    robot = cloud.robot("fuzz-signed", "site-fuzz")
    body = _body(kind, robot.robot_id, events, noise, depth)
    if route == "ingest":
        r = cloud.post_batch(robot, [], body=body)
    elif route == "poll":
        r = cloud.device_get(robot, f"/v1/devices/{robot.robot_id}/decisions")
    else:
        r = cloud.device_post(robot, f"/v1/devices/{robot.robot_id}/decisions/{noise.hex()[:36] or 'x'}/ack", body)
    _check(r)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drop=st.sets(st.sampled_from([protocol.HEADER_ROBOT, protocol.HEADER_TIMESTAMP, protocol.HEADER_NONCE,
                                     protocol.HEADER_SIGNATURE]), max_size=2),
       replace=st.dictionaries(st.sampled_from([protocol.HEADER_ROBOT, protocol.HEADER_TIMESTAMP,
                                                protocol.HEADER_NONCE, protocol.HEADER_SIGNATURE]),
                               st.one_of(header_text, st.binary(min_size=0, max_size=100).map(protocol.b64encode)),
                               max_size=3),
       route=st.sampled_from(["ingest", "poll", "ack"]), known_robot=st.booleans())
def test_fuzz_auth_headers_never_5xx(cloud, drop, replace, route, known_robot) -> None:
    robot = cloud.robot("fuzz-headers", "site-fuzz")
    robot_id = robot.robot_id if known_robot else "fuzz-nobody"
    body = protocol.encode_batch(robot_id, robot.events(1, time.time())) if route != "poll" else b""
    method, path = {"ingest": ("POST", protocol.INGEST_PATH),
                    "poll": ("GET", f"/v1/devices/{robot_id}/decisions"),
                    "ack": ("POST", f"/v1/devices/{robot_id}/decisions/d1/ack")}[route]
    headers = protocol.sign_request(robot.seed, method, path, robot_id, body, time.time())
    headers = {k: v for k, v in headers.items() if k not in drop}
    headers.update({k: v.strip(" \t").encode() for k, v in replace.items()})  # h11 refuses padding
    _check(cloud.http.request(method, path, content=body or None, headers=headers))
