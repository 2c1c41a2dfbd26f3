"""Batch format 2 (sigma_protocol.columnar): lossless round trip, shapes, refusals that name where."""

from __future__ import annotations

import orjson
import pytest

import sigma_protocol as protocol

NOW = 1_800_000_000.0


def _events() -> list[dict]:
    return [
        {"seq": 1, "ts": NOW, "channel": "joint_states",
         "payload": {"name": ["a", "b"], "position": [0.1, 0.2], "velocity": [1, 2], "effort": []}},
        {"seq": 2, "ts": NOW + 0.5, "channel": "safety_status",
         "payload": {"level": 1, "sequence": 9, "brake_engaged": False,
                     "active_faults": [{"code": 3, "rule": "r", "value": None}]}},
        {"seq": 3, "ts": NOW + 1, "channel": "joint_states",
         "payload": {"name": ["a", "b"], "position": [0.3, -0.4], "velocity": [3, 4], "effort": []}},
        {"seq": 5, "ts": NOW + 1, "channel": "joint_states",  # other names: a block of its own
         "payload": {"name": ["c"], "position": [1e-9]}},
        {"seq": 7, "ts": NOW + 2, "channel": "battery", "payload": {"voltage": 48.25, "current": -1.5}},
    ]


def test_round_trip_is_lossless_and_groups_by_shape() -> None:
    events = _events()
    body = protocol.encode_columnar_batch("r1", events)
    data = orjson.loads(body)
    assert data["format"] == protocol.BATCH_FORMAT_COLUMNAR and data["robot_id"] == "r1"
    assert [(b["channel"], b["seq"]) for b in data["blocks"]] == [
        ("joint_states", [1, 3]), ("safety_status", [2]), ("joint_states", [5]), ("battery", [7])]
    assert data["blocks"][0]["fields"]["velocity"]["type"] == "i8"  # integers stay integers
    assert data["blocks"][0]["fields"]["effort"]["shape"] == [2, 0]
    back = protocol.columnar_events(data)
    assert back == events
    assert [type(v) for v in back[0]["payload"]["velocity"]] == [int, int]
    _, errors = protocol.validate_batch({"robot_id": "r1", "events": back}, "r1", NOW, 3600)
    assert errors == []


def test_events_the_format_cannot_carry_are_refused_for_the_row_format() -> None:
    for payload in ({"voltage": 4800, "units": {"voltage": "mV"}}, {"voltage": True}, {"voltage": "48"},
                    {"bogus": 1.0}):
        with pytest.raises(protocol.NotColumnarError):
            protocol.encode_columnar_batch("r1", [{"seq": 1, "ts": NOW, "channel": "battery", "payload": payload}])


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d["blocks"][0]["fields"]["position"].update(shape=[3, 2]), "blocks[0].fields.position.shape"),
    (lambda d: d["blocks"][0]["fields"]["position"].update(data="***"), "blocks[0].fields.position.data"),
    (lambda d: d["blocks"][0]["fields"]["position"].update(type="f4"), "blocks[0].fields.position.type"),
    (lambda d: d["blocks"][0]["fields"].update(bogus=d["blocks"][0]["fields"]["position"]), "blocks[0].fields"),
    (lambda d: d["blocks"][1]["extras"].update(level=[1]), "blocks[1].extras"),
    (lambda d: d["blocks"][1].update(ts=[]), "blocks[1]"),
    (lambda d: d["blocks"][2].update(channel="nope"), "blocks[2]"),
])
def test_structural_problems_are_400_naming_block_and_field(change, where) -> None:
    data = orjson.loads(protocol.encode_columnar_batch("r1", _events()))
    change(data)
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.columnar_events(data)
    assert err.value.status == 400 and err.value.kind == "malformed-batch" and where in err.value.detail


def test_values_out_of_bounds_reach_validate_batch_with_their_seq() -> None:
    data = orjson.loads(protocol.encode_columnar_batch("r1", [
        {"seq": 4, "ts": NOW, "channel": "battery", "payload": {"voltage": 48.0}},
        {"seq": 5, "ts": NOW, "channel": "battery", "payload": {"voltage": 1e12}}]))
    _, errors = protocol.validate_batch({"robot_id": "r1", "events": protocol.columnar_events(data)}, "r1", NOW, 60)
    assert [(e.seq, e.field) for e in errors] == [(5, "payload.voltage")]


def test_accepted_formats_header() -> None:
    assert protocol.accepted_formats(None) == {1}
    assert protocol.accepted_formats("1, 2") == {1, 2}
    assert protocol.accepted_formats("2,x, 7") == {1, 2, 7}
