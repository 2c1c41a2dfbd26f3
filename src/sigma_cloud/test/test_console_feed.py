"""The console feed: people seen by robots placed on the map (pure), and the site poll reading only the rows written
since its previous read (real PostgreSQL, real ingest)."""

from __future__ import annotations

import asyncio
import math
import time

import orjson
import pytest

from sigma_cloud.console import feed
from sigma_cloud.console.hub import WRITTEN_SINCE, SiteFeed
from sigma_cloud.core.db import make_pool


def odom(x: float, y: float, yaw: float) -> str:
    return orjson.dumps({"position": [x, y, 0.0], "orientation": [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)],
                         "linear": [0.0, 0.0, 0.0]}).decode()


def humans(*people: tuple[str, float, float]) -> str:
    return orjson.dumps({"name": [p[0] for p in people], "x": [p[1] for p in people], "y": [p[2] for p in people],
                         "frame_id": "r1/base_link"}).decode()


def test_people_are_placed_with_the_robots_pose_and_keep_their_time() -> None:
    state = feed.SiteState()
    # The report and the pose arrive in the same read, the report first: it is still placed with that pose.
    got = state.apply_latest([("r1", "humans", 2, humans(("t1", 2.0, 0.0), ("", 0.0, 1.0)), 50.5),
                              ("r1", "odom", 1, odom(3.0, 4.0, math.pi / 2), 50.4)])
    assert got["r1"]["humans"] == [[3.0, 6.0, "t1"], [2.0, 4.0, ""]]  # 2 m ahead of a robot facing +y; 1 m left
    assert got["r1"]["humans_ts"] == 50.5
    # The robot moves on: the people stay where they were seen.
    moved = state.apply_latest([("r1", "odom", 3, odom(5.0, 4.0, 0.0), 51.0)])
    assert "humans" not in moved["r1"]
    # Nobody seen any more: an empty list, drawn as nothing.
    assert state.apply_latest([("r1", "humans", 4, humans(), 52.0)])["r1"]["humans"] == []
    assert state.snapshot(60.0)["robots"][0]["humans_ts"] == 52.0


def test_a_report_before_any_pose_waits_for_it_and_malformed_ones_are_skipped() -> None:
    state = feed.SiteState()
    assert state.apply_latest([("r2", "humans", 1, humans(("a", 1.0, 0.0)), 5.0)]) == {}
    got = state.apply_latest([("r2", "odom", 2, odom(0.0, 0.0, 0.0), 6.0)])  # a later read brings the pose
    assert got["r2"]["humans"] == [[1.0, 0.0, "a"]] and got["r2"]["x"] == 0.0
    bad = orjson.dumps({"name": ["a"], "x": [1.0, 2.0], "y": [0.0]}).decode()
    assert state.apply_latest([("r2", "humans", 3, bad, 7.0), ("r2", "humans", 4, "[1]", 7.0)]) == {}
    assert state.robots["r2"]["humans"] == [[1.0, 0.0, "a"]]


def test_the_site_poll_reads_only_rows_written_since_its_last_read(cloud) -> None:
    site = "console-feed"
    robots = [cloud.robot(f"feed-r{i}", site) for i in range(3)]

    def report(robot, x: float, people: list | None = None) -> None:
        events = [{"seq": robot.next_seq, "ts": time.time(), "channel": "odom",
                   "payload": {"position": [x, 1.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0]}}]
        robot.next_seq += 1
        if people is not None:
            events.append({"seq": robot.next_seq, "ts": time.time(), "channel": "humans",
                           "payload": {"name": [p[0] for p in people], "x": [p[1] for p in people],
                                       "y": [p[2] for p in people]}})
            robot.next_seq += 1
        assert cloud.post_batch(robot, events).status_code == 200

    for i, robot in enumerate(robots):
        report(robot, float(i))

    async def scenario() -> None:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2, timeout=10)
        await pool.open(wait=True, timeout=30)
        try:
            poll = SiteFeed(site, pool, 0.05)
            first = await poll.poll_once()  # the first read takes every row of the site
            assert {r["robot_id"] for r in first["robots"]} == {"feed-r0", "feed-r1", "feed-r2"}
            assert poll.rows_read == 3
            # Nothing written since: a read costs no rows (generous deadline: a long transaction elsewhere in the
            # cluster holds the snapshot horizon back, and then the same rows are read again and dropped by seq).
            deadline = time.monotonic() + 30
            while True:
                before = poll.rows_read
                assert await poll.poll_once() == {}
                if poll.rows_read == before:
                    break
                assert time.monotonic() < deadline, "every read still re-reads old rows"
            await asyncio.to_thread(report, robots[1], 7.0, [("p1", 1.0, 0.0)])
            delta = await poll.poll_once()
            assert [r["robot_id"] for r in delta["robots"]] == ["feed-r1"]
            assert delta["robots"][0]["x"] == 7.0 and delta["robots"][0]["humans"] == [[8.0, 1.0, "p1"]]
            assert poll.rows_read - before == 2  # the robot's odom and humans rows, nothing else
        finally:
            await pool.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("since", [0, 2**32 - 5])
def test_the_row_version_test_wraps_around(cloud, since) -> None:
    """xmin is a 32-bit transaction id: 'written at or after since' is decided modulo 2^32, as the poll's SQL does."""
    import psycopg

    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        newer = (since + 10) % 2**32
        older = (since - 10) % 2**32
        sql = "SELECT " + WRITTEN_SINCE.replace("xmin::text::bigint", "%(xmin)s::bigint")  # the poll's own test
        assert conn.execute(sql, {"xmin": newer, "since": since}).fetchone()[0] is True
        assert conn.execute(sql, {"xmin": since, "since": since}).fetchone()[0] is True
        assert conn.execute(sql, {"xmin": older, "since": since}).fetchone()[0] is False


def test_an_ingest_wakes_the_feed_of_its_site_at_once(cloud, settings, runtime, monkeypatch) -> None:
    """With a 30 s poll period, a pose stored by the real ingest route of the same process still reaches an open
    event stream within seconds: the route wakes the site's feed after its commit (ConsoleHub.wake)."""
    import httpx
    from conftest import ServerThread

    import sigma_protocol as protocol
    from sigma_cloud.app.main import create_app
    from sigma_cloud.console import hub
    from sigma_cloud.core.embedded import free_port

    monkeypatch.setattr(hub, "POLL_S", 30.0)  # the period alone would take 30 s; the test allows 15
    site = "console-wake"
    robot = cloud.robot("wake-r1", site)
    port = free_port()

    def pose(x: float) -> bytes:
        event = {"seq": robot.next_seq, "ts": time.time(), "channel": "odom",
                 "payload": {"position": [x, 2.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0]}}
        robot.next_seq += 1
        return protocol.encode_batch(robot.robot_id, [event])

    def post(client: httpx.Client, body: bytes) -> None:
        signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
        r = client.post(protocol.INGEST_PATH, content=body, headers={**signed, "Content-Type": "application/json"})
        assert r.status_code == 200, r.text

    with ServerThread(create_app(settings, runtime, run_maintenance=False), port) as server, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        post(client, pose(1.0))
        with client.stream("GET", f"/console/api/sites/{site}/events", headers=cloud.token()) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: snapshot"
            assert orjson.loads(next(lines).removeprefix("data: "))["robots"][0]["x"] == 1.0
            feed_of_site = server.server.config.app.state.console_hub.feeds[site]
            reads = feed_of_site.reads
            post(client, pose(3.0))
            posted = time.monotonic()
            while (line := next(lines)) != "event: delta":
                assert line.startswith(":") or not line, line  # heartbeats only
            delta = orjson.loads(next(lines).removeprefix("data: "))
            assert time.monotonic() - posted < 15.0, "the delta waited for the poll period"
            assert delta["robots"] == [{"robot_id": "wake-r1", "x": 3.0}]
            assert feed_of_site.reads - reads <= 3  # one woken read (plus a period's at most), no busy loop


def test_a_running_feed_does_not_open_its_stream_to_others(cloud) -> None:
    """While a fleet admin watches site B (its feed runs), a site manager of A still gets a 404 for B's stream and an
    unknown site is a 404; B's own site manager gets B's snapshot (the check without the database)."""
    cloud.robot("guard-a1", "console-guard-a")
    b1 = cloud.robot("guard-b1", "console-guard-b")
    pose = {"seq": b1.next_seq, "ts": time.time(), "channel": "odom",
            "payload": {"position": [4.0, 5.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0]}}
    b1.next_seq += 1
    assert cloud.post_batch(b1, [pose]).status_code == 200
    with cloud.http.stream("GET", "/console/api/sites/console-guard-b/events", headers=cloud.token()) as admin:
        assert next(admin.iter_lines()) == "event: snapshot"  # the feed of B runs now
        other = cloud.http.get("/console/api/sites/console-guard-b/events",
                               headers=cloud.token("site_manager", ("console-guard-a",)))
        assert other.status_code == 404, other.text
        missing = cloud.http.get("/console/api/sites/console-guard-z/events",
                                 headers=cloud.token("site_manager", ("console-guard-z",)))
        assert missing.status_code == 404, missing.text
        with cloud.http.stream("GET", "/console/api/sites/console-guard-b/events",
                               headers=cloud.token("site_manager", ("console-guard-b",))) as own:
            assert own.status_code == 200
            lines = own.iter_lines()
            assert next(lines) == "event: snapshot"
            robots = orjson.loads(next(lines).removeprefix("data: "))["robots"]
            assert [(r["robot_id"], r["x"], r["y"]) for r in robots] == [("guard-b1", 4.0, 5.0)]
