"""Automated incident response: a robot that falls silent is announced to its site's managers (once), its open tasks
go back to the queue and to the site's leader for re-allocation; when it is heard again that is announced too.
The planner is pure (time passed in); the pass runs against the real service and database."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_tasks import manager, mapped_site, report, running_task

from sigma_cloud.core import incident_response
from sigma_cloud.core.db import make_pool
from sigma_cloud.core.silence import Episode, RobotSeen, plan, silent_message

SITE = "incident-a"
OTHER = "incident-b"


def test_plan_opens_each_episode_once_and_closes_it_when_heard_again() -> None:
    quiet = RobotSeen("r1", "s", last_seen=100.0, registered_at=0.0)
    never = RobotSeen("r2", "s", last_seen=None, registered_at=50.0)
    fresh = RobotSeen("r3", "s", last_seen=195.0, registered_at=0.0)
    first = plan([quiet, never, fresh], {}, now=200.0, silent_after_s=60.0)
    assert [r.robot_id for r in first.went_silent] == ["r1", "r2"] and first.came_back == ()
    opened = {"r1": Episode("r1", "s", 100.0), "r2": Episode("r2", "s", 50.0)}
    again = plan([quiet, never, fresh], opened, now=500.0, silent_after_s=60.0)
    assert [r.robot_id for r in again.went_silent] == ["r3"]  # r1 and r2 are not announced twice
    heard = RobotSeen("r1", "s", last_seen=510.0, registered_at=0.0)
    later = plan([heard, never, fresh], opened, now=511.0, silent_after_s=60.0)
    assert [e.robot_id for e in later.came_back] == ["r1"]
    assert [r.robot_id for r in later.went_silent] == ["r3"]
    gone = plan([fresh], opened, now=201.0, silent_after_s=60.0)  # decommissioned robots' episodes are closed
    assert {e.robot_id for e in gone.came_back} == {"r1", "r2"}


def test_plan_threshold_is_strict_and_validated() -> None:
    robot = RobotSeen("r1", "s", last_seen=100.0, registered_at=0.0)
    assert plan([robot], {}, now=160.0, silent_after_s=60.0).went_silent == ()
    assert plan([robot], {}, now=160.001, silent_after_s=60.0).went_silent == (robot,)
    with pytest.raises(ValueError):
        plan([robot], {}, now=0.0, silent_after_s=0.0)
    assert "never heard from" in silent_message(RobotSeen("r9", "s", None, 0.0), 10.0, 0)
    assert "2 open task(s)" in silent_message(robot, 200.0, 2) and "silent for 100 s" in silent_message(robot, 200.0, 2)


def run_pass(cloud, now: float) -> dict:
    async def once() -> dict:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
        await pool.open(wait=True, timeout=30)
        try:
            return await incident_response.run_once(pool, cloud.settings, now=now)
        finally:
            await pool.close()

    return asyncio.run(once())


def test_silent_robot_hands_back_its_tasks_and_the_site_is_told(cloud) -> None:
    for site in (SITE, OTHER):
        mapped_site(cloud, site)
    worker, lead = cloud.robot("incident-worker", SITE), cloud.robot("incident-leader", SITE)
    task = running_task(cloud, SITE, worker, lead, term=3, progress=0.3)
    report(cloud, lead, "leader-local", 3)  # the leader is heard too
    url = f"/v1/sites/{SITE}/tasks/{task['task_id']}"
    assert cloud.http.get(url, headers=manager(cloud, SITE)).json()["state"] == "in_progress"

    assert "incident-worker" not in run_pass(cloud, time.time())["silent"]  # just heard: not silent

    later = time.time() + cloud.settings.robot_silent_after_s + 5
    first = run_pass(cloud, later)
    assert {"incident-worker", "incident-leader"} <= set(first["silent"])
    assert "incident-worker" not in run_pass(cloud, later + 30)["silent"], "one announcement per episode"
    detail = cloud.http.get(url, headers=manager(cloud, SITE)).json()
    assert detail["state"] == "queued" and detail["robot_id"] is None
    last = detail["history"][-1]
    assert last["actor"] == "system:incident-response" and last["robot_id"] == "incident-worker"
    assert "silent for" in last["reason"] and last["from_state"] == "in_progress"
    sent = cloud.device_get(lead, "/v1/devices/incident-leader/decisions").json()["decisions"]
    resent = [d for d in sent if d["parameters"].get("task_id") == task["task_id"]]
    assert resent and resent[-1]["action"] == "fleet_task" and resent[-1]["parameters"]["place"] == "shelf_3_2"
    # silent to the cloud is not lost to the mesh: the leader, which may still hear the robot, decides (no keep-away)
    assert "requeued_from" not in resent[-1]["parameters"]

    notes = cloud.http.get(f"/v1/sites/{SITE}/notifications", headers=manager(cloud, SITE))
    assert notes.status_code == 200, notes.text
    silent = [n for n in notes.json()["items"] if n["robot_id"] == "incident-worker"]
    assert len(silent) == 1 and silent[0]["kind"] == "robot_silent"
    assert "1 open task(s)" in silent[0]["message"] and silent[0]["details"]["leader_told"] is True
    assert silent[0]["details"]["requeued_tasks"] == [task["task_id"]]
    operator = cloud.http.get(f"/v1/sites/{SITE}/notifications", headers=cloud.token("operator", (SITE,)))
    assert operator.status_code == 200 and len(operator.json()["items"]) == len(notes.json()["items"])
    foreign = cloud.http.get(f"/v1/sites/{SITE}/notifications", headers=manager(cloud, OTHER))
    assert foreign.status_code == 404, "another site's manager neither sees the notes nor learns the site exists"
    assert cloud.http.get(f"/v1/sites/{SITE}/notifications").status_code == 401

    report(cloud, worker, "worker-local", 3)  # heard again
    back = run_pass(cloud, time.time())
    assert "incident-worker" in back["back"] and "incident-leader" not in back["back"]
    kinds = [n["kind"] for n in cloud.http.get(f"/v1/sites/{SITE}/notifications", headers=manager(cloud, SITE))
             .json()["items"] if n["robot_id"] == "incident-worker"]
    assert kinds == ["robot_back", "robot_silent"]  # newest first
    # a take-back for silence keeps the task away from nobody (unlike a degraded robot's, migration 0017): the
    # robot's own report after it, under the same term, holds the task again
    report(cloud, worker, task["task_id"], 2, progress=0.4, term=3)
    detail = cloud.http.get(url, headers=manager(cloud, SITE)).json()
    assert (detail["state"], detail["robot_id"]) == ("in_progress", "incident-worker"), detail["history"][-3:]


def test_one_pass_at_a_time_across_replicas(cloud) -> None:
    """Two replicas running a pass at once: one does the work, the other skips (advisory lock)."""

    async def both() -> list[dict]:
        pools = [make_pool(cloud.runtime.api_url, min_size=1, max_size=2) for _ in range(2)]
        for pool in pools:
            await pool.open(wait=True, timeout=30)
        try:
            async with pools[0].connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (incident_response.INCIDENT_LOCK,))
                blocked = await incident_response.run_once(pools[1], cloud.settings, now=time.time())
            free = await incident_response.run_once(pools[1], cloud.settings, now=time.time())
            return [blocked, free]
        finally:
            for pool in pools:
                await pool.close()

    blocked, free = asyncio.run(both())
    assert blocked.get("skipped") and "skipped" not in free
