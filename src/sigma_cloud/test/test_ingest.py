"""End-to-end ingest over real HTTP into the real embedded PostgreSQL."""

from __future__ import annotations

import time

import psycopg


def _count(cloud, robot_id: str) -> int:
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        return conn.execute("SELECT count(*) FROM telemetry WHERE robot_id = %s", (robot_id,)).fetchone()[0]


def test_batch_is_stored_and_acked(cloud) -> None:
    robot = cloud.robot("ing-1")
    r = cloud.post_batch(robot, robot.events(50, time.time()))
    assert r.status_code == 200, r.text
    assert r.json() == {"robot_id": "ing-1", "accepted": 50, "duplicates": 0, "acked_through": 50}
    assert _count(cloud, "ing-1") == 50
