"""Log batches of the device protocol (sigma_protocol.logs): encoding, validation of the batch and of each record,
severity names, trace ids found in messages."""

from __future__ import annotations

import orjson
import pytest

from sigma_protocol import ProtocolError
from sigma_protocol import logs as wire

NOW = 1_800_000_000.0


def rec(n: int, **over: object) -> dict:
    return {"seq": n, "ts": NOW - 1, "severity": 20, "node": "r1.core", "message": "m", "file": "f.py",
            "function": "f", "line": 3, **over}


def check(records: list, dropped: dict | None = None, robot: str = "r1"):
    body = wire.encode_log_batch("r1", 5, records, dropped or {})
    return wire.validate_log_batch(orjson.loads(body), robot, NOW, max_age_s=86400)


def test_a_valid_batch_round_trips() -> None:
    stream, records, dropped, errors = check([rec(1), rec(2, severity=50, trace_id="ab" * 16)],
                                             {"buffer": {"info": 4}})
    assert (stream, [r["seq"] for r in records], dropped, errors) == (5, [1, 2], {"buffer": {"info": 4}}, [])


@pytest.mark.parametrize(("bad", "field"), [
    ({"seq": 0}, "seq"), ({"ts": NOW - 2 * 86400}, "ts"), ({"ts": NOW + 3600}, "ts"), ({"severity": 25}, "severity"),
    ({"node": 7}, "node"), ({"message": "x" * (wire.MAX_MESSAGE_CHARS + 1)}, "message"), ({"line": -1}, "line"),
    ({"trace_id": "XYZ"}, "trace_id"), ({"colour": "red"}, "colour")])
def test_each_record_problem_is_named(bad: dict, field: str) -> None:
    _, _, _, errors = check([rec(1), rec(2, **bad)])
    assert [(e.index, e.field) for e in errors] == [(1, field)]


def test_seqs_must_increase() -> None:
    _, _, _, errors = check([rec(3), rec(2)])
    assert [(e.index, e.seq, e.field) for e in errors] == [(1, 2, "seq")]


@pytest.mark.parametrize(("data", "status"), [
    ({"robot_id": "r1", "stream": 1}, 400), ({"robot_id": "r2", "stream": 1, "records": [rec(1)]}, 403),
    ({"robot_id": "r1", "stream": -1, "records": [rec(1)]}, 400),
    ({"robot_id": "r1", "stream": 1, "records": [], "dropped": {}}, 400),
    ({"robot_id": "r1", "stream": 1, "records": [], "dropped": {"lost": {"info": 1}}}, 400),
    ({"robot_id": "r1", "stream": 1, "records": [rec(1)] * (wire.MAX_LOG_RECORDS + 1)}, 413)])
def test_batch_problems_raise(data: dict, status: int) -> None:
    with pytest.raises(ProtocolError) as err:
        wire.validate_log_batch(data, "r1", NOW, 86400)
    assert err.value.status == status


def test_severity_names_and_trace_ids() -> None:
    assert [wire.severity_name(v) for v in (0, 10, 20, 25, 30, 40, 50, 99)] == [
        "debug", "debug", "info", "info", "warn", "error", "fatal", "fatal"]
    tid = "0af7651916cd43dd8448eb211c80319c"
    assert wire.find_trace_id(f"ingest failed trace_id={tid}") == tid
    assert wire.find_trace_id(f'{{"trace_id": "{tid}"}}') == tid
    assert wire.find_trace_id(f"batch 00-{tid}-b7ad6b7169203331-01 refused") == tid
    assert wire.find_trace_id("no trace here") == ""
    assert wire.find_trace_id("trace_id=" + "0" * 32) == ""  # the W3C invalid all-zero id
