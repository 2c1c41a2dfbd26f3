"""ingest_once() (migration 0074, issue 16): the fast path's begin and finish in one call, only when the locked
high-water mark still cuts the batch where the API cut it; otherwise it does nothing but ingest_begin()'s part and
returns no new mark, so the API re-filters the batch (the racing-retry test in test_ingest_fastpath.py drives both
branches through the server; here each branch is shown deterministically, in the database)."""

from __future__ import annotations

import time

import psycopg
import pytest

from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params

ONCE = ("SELECT hwm, new_hwm FROM ingest_once(%s, %s, %s, %s, %s, %s, %s::bigint[], %s::float8[], %s::smallint[], "
        "%s::text[], %s::real[], %s::jsonb, %s::bigint[], %s::float8[], %s::text[], %s)")


def _once(conn: psycopg.Connection, robot_id: str, nonce: str, low: int | None, first: int, max_seq: int) -> tuple:
    """ingest_once() as the robot's device identity for a batch whose new events are first..max_seq (battery)."""
    conn.execute(IDENTITY_SQL, identity_params(Principal(f"device:{robot_id}", "device", robot_id=robot_id)))
    payload = '{"voltage": 48.0}'
    return conn.execute(ONCE, (robot_id, nonce, low, first, max_seq - first + 1, max_seq, [max_seq], [time.time()],
                               [0], [payload], [0.0], "{}", [], [], [], None)).fetchone()


def _state(conn: psycopg.Connection, robot_id: str) -> tuple:
    """(mark, events counted, channels in robot_latest), read as the device inside the same transaction."""
    return conn.execute("SELECT s.last_seq, s.events_total, (SELECT count(*) FROM robot_latest l WHERE "
                        "l.robot_id = s.robot_id) FROM robot_ingest_state s WHERE s.robot_id = %s",
                        (robot_id,)).fetchone()


def test_ingest_once_finishes_only_when_the_mark_still_cuts_the_batch_there(cloud) -> None:
    robot = cloud.robot("once-1")
    r = cloud.post_batch(robot, robot.events(30, time.time()))  # durable through seq 30
    assert r.status_code == 200 and r.json()["acked_through"] == 30, r.text
    with psycopg.connect(cloud.runtime.api_url) as conn:  # the API's login role, acting as the device
        conn.execute(IDENTITY_SQL, identity_params(Principal(f"device:{robot.robot_id}", "device",
                                                             robot_id=robot.robot_id)))
        before = _state(conn, robot.robot_id)
        assert before[:2] == (30, 30)
        conn.rollback()
        # The API's mark was older (a stale cache): its batch started at seq 11, which is already durable.
        assert _once(conn, robot.robot_id, "n-stale", None, 11, 40) == (30, None)
        assert _state(conn, robot.robot_id) == before  # nothing recorded but the nonce:
        with pytest.raises(psycopg.errors.UniqueViolation):  # a replay of it is refused as by ingest_begin()
            _once(conn, robot.robot_id, "n-stale", None, 11, 40)
        conn.rollback()
        # The API cut below seq 35 but the database is at 30: seqs 31..34 would be lost -- refused the same way.
        assert _once(conn, robot.robot_id, "n-gap", 35, 36, 40) == (30, None)
        assert _state(conn, robot.robot_id) == before
        conn.rollback()
        # The cut is right (the last skipped seq 30 <= mark 30 < first new seq 31): begun and finished in one call.
        assert _once(conn, robot.robot_id, "n-ok", 30, 31, 40) == (30, 40)
        assert _state(conn, robot.robot_id)[:2] == (40, 40)
        conn.rollback()
    r = cloud.post_batch(robot, robot.events(10, time.time()))  # the server's own path is unaffected
    assert r.status_code == 200 and r.json()["acked_through"] == 40, r.text
