"""Columnar batches (batch format 2, sigma_protocol.columnar) through the ingest path (issue 16).

Shown here: for every batch the fast columnar decoder accepts, the reference path (columnar_events +
validate_batch) accepts the same events, and the decoder's seqs, channels, stored payloads and feature matrices equal
the row format's (hypothesis); a bad value in a column is refused 422 naming the event's seq and the field, and
nothing is stored; a structural problem is a 400 naming the block and field; a real server stores a format-2 batch
exactly as the row format would have (payload as JSON, RLS readers, exactly-once under racing retries), and every
ingest answer advertises the formats it accepts.
"""

from __future__ import annotations

import base64
import concurrent.futures
import time

import numpy as np
import orjson
import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

import sigma_protocol as protocol
from sigma_cloud.core import fastpath, fastpath_columnar
from sigma_cloud.core.analytics import features

NOW = 1_800_000_000.0
JOINTS = ["a", "b", "c"]
numbers = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.integers(-1000, 1000))
lists = st.lists(numbers, min_size=0, max_size=3)
fault = st.fixed_dictionaries({"code": st.integers(0, 9)}, optional={"rule": st.text(max_size=5),
                                                                      "value": st.none() | st.floats(-1, 1)})
payloads = {
    "battery": st.fixed_dictionaries({"voltage": numbers}, optional={"current": numbers, "present": st.booleans()}),
    "imu": st.fixed_dictionaries({}, optional={"orientation": lists, "angular_velocity": lists}),
    "joint_states": st.fixed_dictionaries({"name": st.just(JOINTS)},
                                          optional={"position": st.lists(numbers, min_size=3, max_size=3),
                                                    "velocity": st.one_of(st.just([]), numbers)}),
    "safety_status": st.fixed_dictionaries({"level": st.integers(0, 3)},
                                           optional={"sequence": st.integers(0, 99),
                                                     "active_faults": st.lists(fault, max_size=2)}),
}
events = st.lists(st.sampled_from(sorted(payloads)).flatmap(
    lambda c: st.tuples(st.just(c), payloads[c])), min_size=1, max_size=12)


def _rows(batch: list[tuple[str, dict]]) -> list[dict]:
    return [{"seq": 3 * i + 1, "ts": NOW - i, "channel": c, "payload": p} for i, (c, p) in enumerate(batch)]


@settings(max_examples=150, deadline=None)
@given(events)
def test_columnar_decode_equals_the_row_format(batch: list[tuple[str, dict]]) -> None:
    rows = _rows(batch)
    body = protocol.encode_columnar_batch("r1", rows)
    fast = fastpath_columnar.decode(body, "r1", NOW, 86400, 100, 300)
    reference = protocol.columnar_events(orjson.loads(body))
    accepted, errors = protocol.validate_batch({"robot_id": "r1", "events": reference}, "r1", NOW, 86400, 100, 300)
    assert reference == sorted(rows, key=lambda e: e["seq"])  # the reference decoding is lossless
    if fast is None:  # only invalid batches, or one channel in blocks of several widths (reference rows then)
        blocks = orjson.loads(body)["blocks"]
        assert errors or len({b["channel"] for b in blocks}) < len(blocks)
        return
    assert errors == []
    assert fast.seqs == [e["seq"] for e in accepted] and fast.ts == [e["ts"] for e in accepted]
    assert fast.channels == [e["channel"] for e in accepted]
    assert [orjson.loads(t) for t in fast.payload_texts] == [e["payload"] for e in accepted]
    for channel, (positions, matrix) in fast.groups.items():
        expected = [features(protocol.CHANNELS[channel], accepted[i]["payload"]) for i in positions]
        assert (matrix.tolist() if isinstance(matrix, np.ndarray) else matrix) == expected


def _column(body: bytes, block: int, field: str, values: list[float], kind: str = "f8") -> bytes:
    data = orjson.loads(body)
    column = data["blocks"][block]["fields"][field]
    column["data"] = base64.b64encode(np.asarray(values, dtype="<" + kind).tobytes()).decode()
    return orjson.dumps(data)


def test_bad_columns_fall_back_and_are_named() -> None:
    rows = [{"seq": i + 1, "ts": NOW, "channel": "battery", "payload": {"voltage": 48.0, "current": 1.0}}
            for i in range(4)]
    good = protocol.encode_columnar_batch("r1", rows)
    assert fastpath_columnar.decode(good, "r1", NOW, 86400, 100, 300) is not None
    for bad, seq in ((_column(good, 0, "voltage", [48.0, 48.0, 1e9, 48.0]), 3),
                     (_column(good, 0, "voltage", [48.0, float("nan"), 48.0, 48.0]), 2),
                     (_column(good, 0, "voltage", [48.0, 48.0, 48.0, float("inf")]), 4),
                     (_column(good, 0, "voltage", [float("-inf"), 48.0, 48.0, 48.0]), 1)):
        assert fastpath_columnar.decode(bad, "r1", NOW, 86400, 100, 300) is None
        _, errors = protocol.validate_batch({"robot_id": "r1", "events": protocol.columnar_events(orjson.loads(bad))},
                                            "r1", NOW, 86400, 100, 300)
        assert [(e.seq, e.field) for e in errors] == [(seq, "payload.voltage")]
    short = orjson.loads(good)
    short["blocks"][0]["fields"]["voltage"]["data"] = short["blocks"][0]["fields"]["voltage"]["data"][:8]
    assert fastpath_columnar.decode(orjson.dumps(short), "r1", NOW, 86400, 100, 300) is None
    try:
        protocol.columnar_events(short)
    except protocol.ProtocolError as exc:
        assert exc.status == 400 and "blocks[0].fields.voltage.data" in exc.detail
    else:
        raise AssertionError("a short column was accepted")
    twice = orjson.loads(good)
    twice["blocks"][0]["seq"] = [1, 2, 2, 3]
    assert fastpath_columnar.decode(orjson.dumps(twice), "r1", NOW, 86400, 100, 300) is None
    unknown = orjson.loads(good)
    unknown["blocks"][0]["fields"]["bogus"] = unknown["blocks"][0]["fields"]["voltage"]
    assert fastpath_columnar.decode(orjson.dumps(unknown), "r1", NOW, 86400, 100, 300) is None


def test_every_field_bound_is_finite() -> None:
    # fastpath_columnar checks a block in one comparison against its columns' bounds: NaN and +-inf fail it only
    # because every bound is finite
    assert all(np.isfinite(protocol.channels.bounds(channel, field)).all()
               for channel, fields in protocol.CHANNELS.items() for field in fields)


def test_a_bad_value_in_any_column_of_a_wide_block_falls_back() -> None:
    rows = [{"seq": i + 1, "ts": NOW, "channel": "imu",
             "payload": {"orientation": [0.0, 0.0, 0.0, 1.0], "angular_velocity": [0.1, 0.2, 0.3],
                         "linear_acceleration": [0.0, 0.0, 9.8]}} for i in range(3)]
    good = protocol.encode_columnar_batch("r1", rows)
    assert fastpath_columnar.decode(good, "r1", NOW, 86400, 100, 300) is not None
    for field, where, value in (("linear_acceleration", 4, float("nan")), ("linear_acceleration", 8, float("inf")),
                                ("linear_acceleration", 0, -float("inf")), ("angular_velocity", 5, 1e9)):
        values = [0.1, 0.2, 0.3] * 3  # 3 rows x 3 columns; one value made bad, in any row and column
        values[where] = value
        bad = _column(good, 0, field, values)
        assert fastpath_columnar.decode(bad, "r1", NOW, 86400, 100, 300) is None, (where, value)
        _, errors = protocol.validate_batch({"robot_id": "r1", "events": protocol.columnar_events(orjson.loads(bad))},
                                            "r1", NOW, 86400, 100, 300)
        assert errors, (where, value)  # the reference path names it
    status = [{"seq": i + 1, "ts": NOW, "channel": "safety_status", "payload": {"level": 1}} for i in range(2)]
    body = protocol.encode_columnar_batch("r1", status)
    assert fastpath_columnar.decode(body, "r1", NOW, 86400, 100, 300) is not None
    assert fastpath_columnar.decode(_column(body, 0, "level", [1, 10**12], "i8"), "r1", NOW, 86400, 100, 300) is None


def test_the_row_fast_path_never_takes_a_columnar_body() -> None:
    body = protocol.encode_columnar_batch("r1", _rows([("battery", {"voltage": 1.0})]))
    assert fastpath.decode(body, "r1", NOW, 86400, 100, 300) is None


def _post_columnar(cloud, robot, rows: list[dict], body: bytes | None = None):
    return cloud.post_batch(robot, rows, body=body or protocol.encode_columnar_batch(robot.robot_id, rows),
                            headers={"Content-Type": protocol.CONTENT_TYPE_COLUMNAR})


def test_server_stores_a_columnar_batch_as_the_row_format_would(cloud) -> None:
    robot = cloud.robot("col-1", site_id="site-c")
    ts = time.time() - 5.25
    rows = [{"seq": 1, "ts": ts, "channel": "joint_states",
             "payload": {"name": ["a", "b"], "position": [0.1, -0.2], "velocity": [0, 1], "effort": []}},
            {"seq": 2, "ts": ts, "channel": "battery", "payload": {"voltage": 48.5, "present": True}},
            {"seq": 3, "ts": ts, "channel": "safety_event",
             "payload": {"level": 2, "previous_level": 0, "authority": 1, "previous_authority": 0, "sequence": 4,
                         "cause": "tab\tand \"quote\" and é", "raised": [{"code": 7, "rule": "x", "value": None}]}},
            {"seq": 4, "ts": ts, "channel": "joint_states",
             "payload": {"name": ["a", "b"], "position": [0.3, 0.4], "velocity": [2, 3], "effort": []}}]
    saved = cloud.settings.ingest_copy_min_events
    for copy_min in (1, 10**9):  # both storage paths: binary COPY and one ingest_batch() call
        cloud.settings.ingest_copy_min_events = copy_min
        try:
            batch = [{**e, "seq": e["seq"] + (0 if copy_min == 1 else 10)} for e in rows]
            r = _post_columnar(cloud, robot, batch)
        finally:
            cloud.settings.ingest_copy_min_events = saved
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 4
        assert protocol.accepted_formats(r.headers[protocol.HEADER_BATCH_FORMATS]) == {1, 2}
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        stored = conn.execute("SELECT seq, ts = to_timestamp(%s), channel, payload FROM telemetry WHERE robot_id = %s "
                              "ORDER BY seq", (ts, robot.robot_id)).fetchall()
        cause = conn.execute("SELECT count(*) FROM safety_events WHERE robot_id = %s", (robot.robot_id,)).fetchone()
    expected = [(e["seq"] + k, True, protocol.CHANNEL_IDS[e["channel"]], e["payload"]) for k in (0, 10) for e in rows]
    assert stored == expected and cause == (2,)


def test_bad_columnar_batch_is_named_and_nothing_is_stored(cloud) -> None:
    robot = cloud.robot("col-bad")
    rows = [{"seq": i + 1, "ts": time.time(), "channel": "battery", "payload": {"voltage": 48.0}} for i in range(3)]
    body = _column(protocol.encode_columnar_batch(robot.robot_id, rows), 0, "voltage", [48.0, 2e6, 48.0])
    r = _post_columnar(cloud, robot, rows, body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert [(e["seq"], e["field"]) for e in r.json()["errors"]] == [(2, "payload.voltage")]
    broken = orjson.loads(protocol.encode_columnar_batch(robot.robot_id, rows))
    broken["blocks"][0]["fields"]["voltage"]["shape"] = [2]
    r = _post_columnar(cloud, robot, rows, orjson.dumps(broken))
    assert r.status_code == 400 and "blocks[0].fields.voltage.shape" in r.json()["detail"], r.text
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        assert conn.execute("SELECT count(*) FROM telemetry WHERE robot_id = %s", (robot.robot_id,)).fetchone() == (0,)


def test_racing_columnar_retries_are_stored_exactly_once(cloud) -> None:
    saved, cloud.settings.ingest_copy_min_events = cloud.settings.ingest_copy_min_events, 1
    try:
        robot = cloud.robot("col-race")
        rows = robot.events(60, time.time(), channel="joint_states")
        windows = [rows[:k] for k in (30, 30, 40, 60, 60, 45)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda w: _post_columnar(cloud, robot, w), windows))
    finally:
        cloud.settings.ingest_copy_min_events = saved
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sum(r.json()["accepted"] for r in answers) == 60
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT seq) FROM telemetry WHERE robot_id = %s",
                            (robot.robot_id,)).fetchone() == (60, 60)
