"""The ingest fast path (issue 16): columnar msgspec decoding, binary COPY through sigma_ingest (migration 0071).

Shown here: the fast decoder's features equal the reference validator's for every batch it accepts (hypothesis);
the COPY stores exactly what the robot sent, at the timestamp PostgreSQL's to_timestamp() gives; concurrent and
overlapping batches of one robot are stored exactly once; and the ingest role can do nothing but insert five
columns of a day partition for the device identity of its transaction.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time

import numpy as np
import orjson
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigma_protocol as protocol
from sigma_cloud.core import fastpath, ingest_copy
from sigma_cloud.core.analytics import features
from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params
from sigma_cloud.core.partitions import partition_name

NOW = 1_800_000_000.0
JOINTS = ["a", "b", "c"]
numbers = st.floats(-1e3, 1e3, allow_nan=False)
lists = st.lists(numbers, min_size=0, max_size=4)
payloads = {
    "battery": st.fixed_dictionaries({"voltage": numbers}, optional={"current": numbers, "charge": numbers}),
    "imu": st.fixed_dictionaries({}, optional={"orientation": lists, "angular_velocity": lists}),
    "joint_states": st.fixed_dictionaries({"name": st.lists(st.sampled_from(JOINTS), max_size=3)},
                                          optional={"position": lists, "velocity": st.one_of(lists, numbers)}),
    "safety_status": st.fixed_dictionaries({"level": st.integers(0, 3)}, optional={"sequence": st.integers(0, 99)}),
}
events = st.lists(st.sampled_from(sorted(payloads)).flatmap(
    lambda c: st.tuples(st.just(c), payloads[c])), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(events)
def test_fast_features_equal_the_reference_features(batch: list[tuple[str, dict]]) -> None:
    body = orjson.dumps({"robot_id": "r1", "events": [{"seq": i + 1, "ts": NOW, "channel": c, "payload": p}
                                                      for i, (c, p) in enumerate(batch)]})
    fast = fastpath.decode(body, "r1", NOW, 86400, 100, 300)
    accepted, errors = protocol.validate_batch(orjson.loads(body), "r1", NOW, 86400, 100, 300)
    if fast is None:
        return
    assert errors == []
    assert [orjson.loads(t) for t in fast.payload_texts] == [e["payload"] for e in accepted]
    for channel, (positions, matrix) in fast.groups.items():
        expected = [features(protocol.CHANNELS[channel], accepted[i]["payload"]) for i in positions]
        assert [accepted[i]["channel"] for i in positions] == [channel] * len(positions)
        assert (matrix.tolist() if isinstance(matrix, np.ndarray) else matrix) == expected


def test_uniform_channels_decode_to_matrices_and_bad_widths_fall_back() -> None:
    good = [{"seq": i + 1, "ts": NOW, "channel": "joint_states",
             "payload": {"name": JOINTS, "position": [0.1, 0.2, 0.3], "velocity": []}} for i in range(4)]
    fast = fastpath.decode(orjson.dumps({"robot_id": "r1", "events": good}), "r1", NOW, 86400, 100, 300)
    assert fast is not None
    positions, matrix = fast.groups["joint_states"]
    assert positions == [0, 1, 2, 3] and isinstance(matrix, np.ndarray) and matrix.shape == (4, 3)
    bad = [*good[:3], {**good[3], "payload": {"name": JOINTS[:2], "position": [0.1, 0.2, 0.3]}}]
    assert fastpath.decode(orjson.dumps({"robot_id": "r1", "events": bad}), "r1", NOW, 86400, 100, 300) is None


def test_copy_stream_layout() -> None:
    data = ingest_copy.copy_data([7], ingest_copy.timestamp_us([ingest_copy.POSTGRES_EPOCH_S + 1.5]),
                                 np.array([2], np.int16), np.array([0.25], np.float32), [b'{"v":1}'])
    assert data.startswith(ingest_copy.HEADER) and data.endswith(ingest_copy.TRAILER)
    row = data[len(ingest_copy.HEADER):-len(ingest_copy.TRAILER)]
    assert row == (b"\x00\x05" + b"\x00\x00\x00\x08" + (7).to_bytes(8, "big") + b"\x00\x00\x00\x08"
                   + (1_500_000).to_bytes(8, "big") + b"\x00\x00\x00\x02\x00\x02" + b"\x00\x00\x00\x04"
                   + np.array([0.25], ">f4").tobytes() + b"\x00\x00\x00\x08\x01" + b'{"v":1}')
    days = list(ingest_copy.by_day([1, 2], [86_400.0 * 20_000 - 1, 86_400.0 * 20_000 + 1], np.array([0, 0]),
                                   np.array([0.0, 0.0], np.float32), [b"{}", b"{}"]))
    assert [d for d, _ in days] == [dt.date(2024, 10, 3), dt.date(2024, 10, 4)]


@pytest.fixture(params=["copy", "function"])
def path(request, cloud):
    """Both storage paths: binary COPY (large batches) and one ingest_batch() call (small batches)."""
    saved = cloud.settings.ingest_copy_min_events
    cloud.settings.ingest_copy_min_events = 1 if request.param == "copy" else 10**9
    yield request.param
    cloud.settings.ingest_copy_min_events = saved


def test_stored_rows_are_what_the_robot_sent(cloud, path) -> None:
    robot = cloud.robot(f"fast-1-{path}", site_id="site-f")
    ts = time.time() - 10.123456789
    sent = [{"seq": 1, "ts": ts, "channel": "battery", "payload": {"voltage": 48.5, "current": 3.0}},
            {"seq": 2, "ts": ts, "channel": "safety_event",
             "payload": {"level": 2, "previous_level": 0, "authority": 1, "previous_authority": 0, "sequence": 4,
                         "cause": "tab\tand \"quote\" and \\ backslash and é"}}]
    r = cloud.post_batch(robot, sent)
    assert r.status_code == 200, r.text
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        rows = conn.execute("SELECT robot_id, site_id, seq, ts = to_timestamp(%s), channel, payload FROM telemetry "
                            "WHERE robot_id = %s ORDER BY seq", (ts, robot.robot_id)).fetchall()
        cause = conn.execute("SELECT cause FROM safety_events WHERE robot_id = %s", (robot.robot_id,)).fetchone()[0]
        latest = conn.execute("SELECT channel, seq FROM robot_latest WHERE robot_id = %s ORDER BY channel",
                              (robot.robot_id,)).fetchall()
    assert rows == [(robot.robot_id, "site-f", 1, True, protocol.CHANNEL_IDS["battery"], sent[0]["payload"]),
                    (robot.robot_id, "site-f", 2, True, protocol.CHANNEL_IDS["safety_event"], sent[1]["payload"])]
    assert latest == [(protocol.CHANNEL_IDS["battery"], 1), (protocol.CHANNEL_IDS["safety_event"], 2)]
    assert cause == sent[1]["payload"]["cause"]


def test_concurrent_overlapping_batches_are_stored_exactly_once(cloud, path) -> None:
    robot = cloud.robot(f"fast-race-{path}")
    now = time.time()
    events = robot.events(60, now)
    # Eight requests race, each a robot's backlog from its oldest unacknowledged event (fresh nonces: retries after
    # lost acks). Any arrival order stores every seq once: the high-water mark is locked before anything is written.
    # (Windows that skip ahead are not a robot's behaviour: the protocol has one batch in flight per robot, and the
    # mark counts everything at or below it as durable.)
    windows = [events[:k] for k in (30, 30, 40, 40, 50, 60, 60, 45)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda w: cloud.post_batch(robot, w), windows))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sum(r.json()["accepted"] for r in answers) == 60
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT seq) FROM telemetry WHERE robot_id = %s",
                                       (robot.robot_id,)).fetchone()
        hwm = conn.execute("SELECT last_seq, events_total FROM robot_ingest_state WHERE robot_id = %s",
                           (robot.robot_id,)).fetchone()
    assert (count, distinct) == (60, 60) and hwm == (60, 60)
    assert [r.json()["acked_through"] >= len(w) for r, w in zip(answers, windows, strict=True)] == [True] * 8


def _as(conn: psycopg.Connection, robot_id: str | None, role: str = "sigma_ingest") -> None:
    if robot_id is not None:
        conn.execute(IDENTITY_SQL, identity_params(Principal(f"device:{robot_id}", "device", robot_id=robot_id)))
    conn.execute("SELECT set_config('role', %s, true)", (role,))


def test_ingest_role_is_least_privilege(cloud) -> None:
    cloud.robot("fast-sec")
    day = partition_name(dt.datetime.now(dt.timezone.utc).date())
    row = ingest_copy.copy_data([1], ingest_copy.timestamp_us([time.time()]), np.array([2], np.int16),
                                np.array([0.0], np.float32), [b'{"voltage": 1.0}'])
    refusals = {
        "COPY into telemetry (RLS)": (f"COPY telemetry {ingest_copy.COLUMNS} FROM STDIN (FORMAT BINARY)", "fast-sec"),
        "write robot_id": (f"COPY {day} (robot_id, seq, ts, channel, score, payload) FROM STDIN", "fast-sec"),
        "without a device identity": (f"COPY {day} {ingest_copy.COLUMNS} FROM STDIN (FORMAT BINARY)", None),
    }
    for what, (statement, robot_id) in refusals.items():
        with psycopg.connect(cloud.runtime.api_url) as conn, pytest.raises(psycopg.Error), conn.transaction():
            _as(conn, robot_id)
            with conn.cursor().copy(statement) as copy:
                copy.write(row if "BINARY" in statement else b"x\t1\t2026-01-01\t2\t0\t{}\n")
            pytest.fail(f"{what}: accepted")
    # an identity set to the empty string is no identity either (NULL -> NOT NULL refuses the row)
    with psycopg.connect(cloud.runtime.api_url) as conn, pytest.raises(psycopg.errors.NotNullViolation), \
            conn.transaction():
        conn.execute("SELECT set_config('sigma.robot_id', '', true), set_config('sigma.ingest_site', 'x', true)")
        _as(conn, None)
        with conn.cursor().copy(f"COPY {day} {ingest_copy.COLUMNS} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(row)
    for statement in (f"SELECT count(*) FROM {day}", "SELECT count(*) FROM telemetry",
                      f"UPDATE {day} SET score = 0", f"DELETE FROM {day}", "SELECT * FROM robot_latest"):
        with psycopg.connect(cloud.runtime.api_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege), \
                conn.transaction():
            _as(conn, "fast-sec")
            conn.execute(statement)
    # What it may do: COPY the five columns for its device identity (rolled back here).
    with psycopg.connect(cloud.runtime.api_url) as conn, conn.transaction(force_rollback=True):
        _as(conn, "fast-sec", role="sigma_device")
        conn.execute("SELECT * FROM ingest_begin('fast-sec', 'n-sec')")
        conn.execute("SELECT set_config('role', 'sigma_ingest', true)")
        with conn.cursor().copy(f"COPY {day} {ingest_copy.COLUMNS} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(row)


def test_day_partition_identity_defaults_are_inline(cloud) -> None:
    """COPY evaluates a column default per row: the identity defaults are the expression itself, not a call of the
    sigma_robot() / sigma_ingest_site() wrappers (~0.6-1 ms of backend CPU per 1000 rows; migration 0075)."""
    day = partition_name(dt.datetime.now(dt.timezone.utc).date())
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        defaults = dict(conn.execute(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = %s::regclass "
            "AND a.attname IN ('robot_id', 'site_id')", (day,)).fetchall())
    assert set(defaults) == {"robot_id", "site_id"}, defaults
    assert "current_setting('sigma.robot_id'" in defaults["robot_id"] and "sigma_robot" not in defaults["robot_id"]
    assert "current_setting('sigma.ingest_site'" in defaults["site_id"], defaults
