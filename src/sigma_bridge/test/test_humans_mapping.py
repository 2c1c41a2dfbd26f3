"""DetectedHumans -> humans payload (drawn on the console's map): accepted by the device protocol's validator (both
the reference validator and the cloud's fast path), one entry per person, bad entries left out, not refused."""

import math

import orjson
import pytest

from sigma_bridge import mapping
from sigma_cloud.core import fastpath
from sigma_interfaces.msg import DetectedHuman, DetectedHumans
from sigma_protocol import channels


def detections(*people: DetectedHuman, sensor_range: float = 8.0, fov: float = 2.0) -> DetectedHumans:
    msg = DetectedHumans(humans=list(people), sensor_range=sensor_range, field_of_view=fov)
    msg.header.frame_id = "r1/base_link"
    return msg


def person(pid: str, x: float, y: float, conf: float = 0.9) -> DetectedHuman:
    h = DetectedHuman(id=pid, confidence=conf)
    h.position.x, h.position.y, h.position.z = x, y, 0.9
    h.velocity.x, h.velocity.y = 0.5, -0.2
    return h


def fast_ok(payload: dict) -> bool:
    """The cloud's fast path (msgspec) decodes it as the reference validator does."""
    body = orjson.dumps({"robot_id": "r1", "events": [{"seq": 1, "ts": 1000.0, "channel": "humans",
                                                       "payload": payload}]})
    return fastpath.decode(body, "r1", 1000.0, 3600.0, 10, 60.0) is not None


def test_one_entry_per_person_in_the_base_frame():
    p = mapping.humans(detections(person("t7", 2.0, 0.5), person("", 3.5, -1.0, conf=1.4)))
    assert channels.validate_payload("humans", p) == []
    assert fast_ok(p)
    assert p["name"] == ["t7", ""] and p["x"] == [2.0, 3.5] and p["y"] == [0.5, -1.0]
    assert p["vx"] == [0.5, 0.5] and p["vy"] == [-0.2, -0.2]
    assert p["confidence"][0] == pytest.approx(0.9, abs=1e-6) and p["confidence"][1] == 1.0  # clamped to [0, 1]
    assert p["frame_id"] == "r1/base_link" and p["sensor_range"] == 8.0 and p["field_of_view"] == 2.0
    assert mapping.MAPPERS["humans"] is mapping.humans and "humans" in mapping.CHANNELS


def test_nobody_seen_is_an_empty_valid_report():
    p = mapping.humans(detections())
    assert p["name"] == [] and p["x"] == [] and channels.validate_payload("humans", p) == []
    assert fast_ok(p)


def test_non_finite_and_absurd_people_are_left_out():
    p = mapping.humans(detections(person("a", math.nan, 1.0), person("b", 5e3, 0.0), person("c", 1.0, 1.0),
                                  sensor_range=math.inf, fov=-1.0))
    assert p["name"] == ["c"] and channels.validate_payload("humans", p) == []
    assert "sensor_range" not in p and "field_of_view" not in p


def test_a_non_finite_velocity_is_named_not_sent():
    bad = person("v", 1.0, 2.0)
    bad.velocity.x = math.inf
    p = mapping.humans(detections(bad))
    assert p["vx"] == [] and p["nonfinite"] == ["vx"] and channels.validate_payload("humans", p) == []


def test_the_protocol_refuses_mismatched_or_out_of_range_reports():
    assert channels.validate_payload("humans", {"name": ["a"], "x": [1.0, 2.0], "y": [0.0]})
    assert channels.validate_payload("humans", {"name": ["a"], "x": [2e3], "y": [0.0]})
    assert channels.validate_payload("humans", {"name": ["a"], "x": [1.0], "y": [0.0], "confidence": [2.0]})
