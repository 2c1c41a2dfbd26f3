"""Fleet tasks against the real server and embedded PostgreSQL: map, create/list/detail/cancel, idempotency, RLS,
the leader's claim (fencing), the downlink to the leader, and robots' progress through the task_status channel."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params
from sigma_tasks.model import TaskKind, TaskSpec
from sigma_tasks.states import TaskRecord, TaskState, transition

PLACES = [
    {"name": "dock_1", "kind": "dock", "x": -13.5, "y": -8.5},
    {"name": "shelf_0_0", "kind": "shelf", "x": -8.0, "y": -6.0},
    {"name": "shelf_3_2", "kind": "shelf", "x": 8.0, "y": 6.0},
    {"name": "packing", "kind": "zone", "x": 13.0, "y": 0.0},
]
DELIVER = {"kind": "deliver", "pickup": "shelf_0_0", "dropoff": "packing", "payload_kg": 4.0, "priority": 3}


@pytest.fixture(scope="module")
def site(cloud) -> str:
    for s in ("tasks-a", "tasks-b", "tasks-nomap"):
        cloud.ensure_site(s)
    for s in ("tasks-a", "tasks-b"):
        r = cloud.http.put(f"/v1/sites/{s}/places", json={"places": PLACES}, headers=cloud.token())
        assert r.status_code == 200, r.text
    return "tasks-a"


def manager(cloud, site="tasks-a"):
    return cloud.token("site_manager", (site,), subject=f"manager-{site}")


def create(cloud, site="tasks-a", body=None, headers=None):
    return cloud.http.post(f"/v1/sites/{site}/tasks", json=body or DELIVER, headers=headers or manager(cloud, site))


def report(cloud, robot, task_id: str, state: int, reason: str = "", progress: float = 0.0, ts: float | None = None,
           term: int | None = None):
    event = {"seq": robot.next_seq, "ts": ts or time.time(), "channel": "task_status",
             "payload": {"task_id": task_id, "state": state, "progress": progress, "kind": 1, "step": "test",
                         "reason": reason}}
    if term is not None:
        event["payload"]["term"] = term
    robot.next_seq += 1
    r = cloud.post_batch(robot, [event])
    assert r.status_code == 200, r.text


def mapped_site(cloud, site: str) -> None:
    """`site` exists and has the test map (PLACES)."""
    cloud.ensure_site(site)
    r = cloud.http.put(f"/v1/sites/{site}/places", json={"places": PLACES}, headers=cloud.token())
    assert r.status_code == 200, r.text


def running_task(cloud, site: str, worker, leader, *, term: int, progress: float, place: str = "shelf_3_2") -> dict:
    """`leader` claims `term` at `site`; a go_to task to `place` is created, `worker` accepts it and runs it."""
    claim = cloud.device_post(leader, f"/v1/devices/{leader.robot_id}/leadership", json.dumps({"term": term}).encode())
    assert claim.json()["leader"], claim.text
    task = cloud.http.post(f"/v1/sites/{site}/tasks", json={"kind": "go_to", "place": place},
                           headers=manager(cloud, site)).json()
    report(cloud, worker, task["task_id"], 0)  # ACCEPTED: the worker holds it
    report(cloud, worker, task["task_id"], 2, progress=progress)
    return task


def replay_with_sigma_tasks(detail: dict) -> TaskRecord:
    """The stored history must be a path the sigma_tasks state machine allows."""
    spec = TaskSpec("t", TaskKind(detail["kind"]), pickup=detail["pickup"], dropoff=detail["dropoff"],
                    place=detail["place"], payload_kg=detail["payload_kg"])
    first, *rest = detail["history"]
    assert first["from_state"] is None and first["to_state"] == "queued"
    rec = TaskRecord.create(spec, at=0.0, actor=first["actor"])
    for k, h in enumerate(rest, 1):
        assert h["from_state"] == rec.state.value, detail["history"]
        assert h["actor"] and h["reason"]
        rec = transition(rec, TaskState(h["to_state"]), at=float(k), actor=h["actor"], reason=h["reason"],
                         robot_id=h["robot_id"] or "unknown", term=h["term"] if h["term"] is not None else -1)
    assert rec.state.value == detail["state"]
    return rec


def test_places_are_validated_and_read_back(cloud, site):
    r = cloud.http.get(f"/v1/sites/{site}/places", headers=cloud.token("operator", (site,)))
    assert r.status_code == 200 and {p["name"] for p in r.json()["items"]} == {p["name"] for p in PLACES}
    dup = cloud.http.put(f"/v1/sites/{site}/places", json={"places": [PLACES[0], PLACES[0]]}, headers=cloud.token())
    assert dup.status_code == 422 and "dock_1" in dup.json()["detail"]
    r = cloud.http.put(f"/v1/sites/{site}/places", json={"places": PLACES}, headers=cloud.token("operator", (site,)))
    assert r.status_code == 403


def test_create_list_detail_with_history(cloud, site):
    r = create(cloud)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["state"] == "queued" and task["created_by"] == "manager-tasks-a"
    assert [(h["from_state"], h["to_state"], h["actor"], h["reason"]) for h in task["history"]] == [
        (None, "queued", "manager-tasks-a", "created")]
    listed = cloud.http.get(f"/v1/sites/{site}/tasks", params={"state": "queued"}, headers=manager(cloud)).json()
    assert task["task_id"] in {t["task_id"] for t in listed["items"]}
    detail = cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=cloud.token("operator", (site,)))
    assert detail.status_code == 200 and detail.json()["history"] == task["history"]


@pytest.mark.parametrize(("body", "named"), [
    ({**DELIVER, "dropoff": "shelf_9_9"}, "shelf_9_9"),
    ({"kind": "go_to", "place": "mezzanine"}, "mezzanine"),
    ({"kind": "charge", "place": "shelf_0_0"}, "not a dock"),
    ({"kind": "deliver", "pickup": "shelf_0_0"}, "dropoff"),
])
def test_bad_tasks_are_422_naming_what(cloud, site, body, named):
    r = create(cloud, body=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert named in r.text  # in the detail, or in `errors` for what the schema itself refuses


def test_unknown_field_and_site_without_map(cloud, site):
    assert create(cloud, body={**DELIVER, "colour": "red"}).status_code == 422
    r = create(cloud, site="tasks-nomap", headers=cloud.token())
    assert r.status_code == 409 and "places" in r.json()["detail"]


def test_idempotency_key(cloud, site):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = create(cloud, headers={**manager(cloud), **key})
    again = create(cloud, headers={**manager(cloud), **key})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["task_id"] == first.json()["task_id"]
    other = create(cloud, body={**DELIVER, "payload_kg": 9.0}, headers={**manager(cloud), **key})
    assert other.status_code == 409 and other.json()["type"].endswith("idempotency-key-reused")
    listed = cloud.http.get(f"/v1/sites/{site}/tasks", params={"limit": 1000}, headers=manager(cloud)).json()
    assert sum(t["task_id"] == first.json()["task_id"] for t in listed["items"]) == 1


def test_cancel_records_who_and_why_and_only_once(cloud, site):
    task = create(cloud).json()
    url = f"/v1/sites/{site}/tasks/{task['task_id']}/cancel"
    assert cloud.http.post(url, json={"reason": "x"}, headers=cloud.token("operator", (site,))).status_code == 403
    r = cloud.http.post(url, json={"reason": "order withdrawn"}, headers=manager(cloud))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    last = r.json()["history"][-1]
    assert (last["from_state"], last["to_state"], last["actor"], last["reason"]) == (
        "queued", "cancelled", "manager-tasks-a", "order withdrawn")
    again = cloud.http.post(url, json={"reason": "twice"}, headers=manager(cloud))
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    replay_with_sigma_tasks(r.json())


def test_site_scoping(cloud, site):
    task = create(cloud).json()
    other = manager(cloud, "tasks-b")
    assert cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=other).status_code == 404
    assert cloud.http.get(f"/v1/sites/{site}/tasks", headers=other).status_code == 404
    assert create(cloud, site=site, headers=other).status_code == 404
    assert create(cloud, site=site, headers=cloud.token("operator", (site,))).status_code == 403


def test_rls_on_task_tables(cloud, site):
    create(cloud, site="tasks-b", headers=manager(cloud, "tasks-b"))
    create(cloud)
    conn = psycopg.connect(cloud.runtime.api_url, autocommit=True)

    def run(principal: Principal, sql: str) -> list[tuple]:
        with conn.transaction():
            conn.execute(IDENTITY_SQL, identity_params(principal))
            return conn.execute(sql).fetchall()

    try:
        mgr_a = Principal("m", "site_manager", ("tasks-a",))
        for table in ("tasks", "task_transitions", "site_places"):
            assert {r[0] for r in run(mgr_a, f"SELECT DISTINCT site_id FROM {table}")} == {"tasks-a"}
            seen = {r[0] for r in run(Principal("a", "fleet_admin"), f"SELECT DISTINCT site_id FROM {table}")}
            assert {"tasks-a", "tasks-b"} <= seen
        assert run(mgr_a, "UPDATE tasks SET reason = 'x' WHERE site_id = 'tasks-b' RETURNING 1") == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(Principal("o", "operator", ("tasks-a",)), "UPDATE tasks SET reason = 'x' RETURNING 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(Principal("device:x", "device", robot_id="x"), "SELECT count(*) FROM tasks")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # history is append-only
            run(Principal("a", "fleet_admin"), "DELETE FROM task_transitions RETURNING 1")
    finally:
        conn.close()


def test_leader_claim_is_fenced_and_new_tasks_reach_the_leader(cloud, site):
    r1, r2 = cloud.robot("tasks-r1", "tasks-b"), cloud.robot("tasks-r2", "tasks-b")
    open_task = create(cloud, site="tasks-b", headers=manager(cloud, "tasks-b")).json()
    claim = cloud.device_post(r1, "/v1/devices/tasks-r1/leadership", b'{"term": 5}')
    assert claim.status_code == 200, claim.text
    assert claim.json()["leader"] is True
    assert open_task["task_id"] in {t["task_id"] for t in claim.json()["open_tasks"]}
    stale = cloud.device_post(r2, "/v1/devices/tasks-r2/leadership", b'{"term": 4}')
    assert stale.status_code == 200 and stale.json() == {"robot_id": "tasks-r2", "term": 4, "leader": False,
                                                         "open_tasks": []}
    spoof = cloud.device_post(r2, "/v1/devices/tasks-r1/leadership", b'{"term": 9}')
    assert spoof.status_code == 403
    bad = cloud.device_post(r2, "/v1/devices/tasks-r2/leadership", b'{"term": -1}')
    assert bad.status_code == 400
    task = create(cloud, site="tasks-b", body={"kind": "go_to", "place": "shelf_3_2"},
                  headers=manager(cloud, "tasks-b")).json()
    assert task["sent_to_leader"] == "tasks-r1"
    sent = cloud.device_get(r1, "/v1/devices/tasks-r1/decisions").json()["decisions"]
    mine = [d for d in sent if d["parameters"].get("task_id") == task["task_id"]]
    assert len(mine) == 1 and mine[0]["action"] == "fleet_task"
    assert mine[0]["parameters"]["place"] == "shelf_3_2" and mine[0]["parameters"]["kind"] == "go_to"
    newer = cloud.device_post(r2, "/v1/devices/tasks-r2/leadership", b'{"term": 6}')
    assert newer.json()["leader"] is True
    assert create(cloud, site="tasks-b", body={"kind": "go_to", "place": "dock_1"},
                  headers=manager(cloud, "tasks-b")).json()["sent_to_leader"] == "tasks-r2"
    # The swarm's own leader reports (a follower's bridge, migration 0030) count too: term 7 names r1 again.
    reported = cloud.device_post(r2, "/v1/sites/tasks-b/swarm/leader", b'{"term": 7, "leader": "tasks-r1"}')
    assert reported.status_code == 200, reported.text
    assert create(cloud, site="tasks-b", body={"kind": "go_to", "place": "dock_1"},
                  headers=manager(cloud, "tasks-b")).json()["sent_to_leader"] == "tasks-r1"
    late = cloud.device_post(r2, "/v1/devices/tasks-r2/leadership", b'{"term": 6}')
    assert late.json()["leader"] is False  # older than the reported term 7


def test_robot_reports_move_the_task_through_its_states(cloud, site):
    robot, other = cloud.robot("tasks-ra", site), cloud.robot("tasks-rb", site)
    task = create(cloud).json()
    tid = task["task_id"]
    url = f"/v1/sites/{site}/tasks/{tid}"
    report(cloud, robot, tid, 0)  # ACCEPTED: the leader gave it to this robot
    assert cloud.http.get(url, headers=manager(cloud)).json()["state"] == "assigned"
    report(cloud, other, tid, 2)  # another robot's progress on a task it does not hold changes nothing
    report(cloud, robot, tid, 2, progress=0.4)  # ACTIVE
    report(cloud, robot, tid, 2, progress=0.6)  # more progress: no new transition
    detail = cloud.http.get(url, headers=manager(cloud)).json()
    assert detail["state"] == "in_progress" and detail["robot_id"] == "tasks-ra"
    report(cloud, robot, tid, 4, reason="no path to shelf_0_0")  # FAILED -> back to the queue for re-allocation
    detail = cloud.http.get(url, headers=manager(cloud)).json()
    assert detail["state"] == "queued" and "no path to shelf_0_0" in detail["reason"]
    report(cloud, other, tid, 3, reason="delivered")  # a new leader's robot finished it
    detail = cloud.http.get(url, headers=manager(cloud)).json()
    assert detail["state"] == "done" and detail["robot_id"] == "tasks-rb"
    assert [h["to_state"] for h in detail["history"]] == [
        "queued", "assigned", "in_progress", "queued", "assigned", "in_progress", "done"]
    assert {h["actor"] for h in detail["history"][1:]} == {"robot:tasks-ra", "robot:tasks-rb"}
    replay_with_sigma_tasks(detail)
    report(cloud, robot, tid, 2)  # reports after the end change nothing: exactly one terminal state
    final = cloud.http.get(url, headers=manager(cloud)).json()
    assert final["history"] == detail["history"]
    report(cloud, robot, "local-task-7", 3)  # a robot-local task id (not a cloud task) is ignored


def test_a_task_the_leader_reassigned_follows_the_robots_reports(cloud, site):
    """The leader moved the task (the first robot let it go on a safety stop / lease expiry, or fell silent): the new
    robot's ACCEPTED and SUCCEEDED move the record to it; the old robot's late reports cannot take it back."""
    first, second = cloud.robot("tasks-re", site), cloud.robot("tasks-rf", site)
    url = f"/v1/sites/{site}/tasks/{create(cloud).json()['task_id']}"
    tid = url.rsplit("/", 1)[1]
    report(cloud, first, tid, 0)
    report(cloud, first, tid, 2, progress=0.3)
    report(cloud, first, tid, 5, reason="canceled by swarm:tasks-re")  # it let the task go (safety stop)
    detail = cloud.http.get(url, headers=manager(cloud)).json()
    assert detail["state"] == "queued" and "let it go" in detail["reason"]
    report(cloud, second, tid, 0)
    report(cloud, first, tid, 2, progress=0.4)  # a late progress report of the old holder changes nothing
    assert cloud.http.get(url, headers=manager(cloud)).json()["robot_id"] == "tasks-rf"
    silent = create(cloud).json()["task_id"]  # a robot that fell silent: the new robot's report takes it over
    report(cloud, first, silent, 0)
    report(cloud, second, silent, 3, reason="delivered")
    moved = cloud.http.get(f"/v1/sites/{site}/tasks/{silent}", headers=manager(cloud)).json()
    assert moved["state"] == "done" and moved["robot_id"] == "tasks-rf"
    assert [h["to_state"] for h in moved["history"]] == ["queued", "assigned", "queued", "assigned", "in_progress",
                                                        "done"]
    assert "re-assigned by the swarm leader" in moved["history"][2]["reason"]
    replay_with_sigma_tasks(moved)
    report(cloud, second, tid, 3)
    done = cloud.http.get(url, headers=manager(cloud)).json()
    assert done["state"] == "done" and [h["to_state"] for h in done["history"]].count("done") == 1
    replay_with_sigma_tasks(done)


def test_reports_cannot_touch_another_sites_tasks(cloud, site):
    task = create(cloud, site="tasks-b", headers=manager(cloud, "tasks-b")).json()
    intruder = cloud.robot("tasks-rc", site)
    report(cloud, intruder, task["task_id"], 3)
    detail = cloud.http.get(f"/v1/sites/tasks-b/tasks/{task['task_id']}", headers=cloud.token()).json()
    assert detail["state"] == "queued"


def test_a_replayed_older_report_changes_nothing(cloud, site):
    robot = cloud.robot("tasks-rd", site)
    tid = create(cloud).json()["task_id"]
    t0 = time.time()
    report(cloud, robot, tid, 0, ts=t0)
    report(cloud, robot, tid, 2, ts=t0 + 1)
    report(cloud, robot, tid, 4, reason="blocked", ts=t0 + 2)
    report(cloud, robot, tid, 0, ts=t0 + 3)
    report(cloud, robot, tid, 2, ts=t0 + 4)
    before = cloud.http.get(f"/v1/sites/{site}/tasks/{tid}", headers=manager(cloud)).json()
    assert before["state"] == "in_progress"
    # A restarted bridge re-uploads the robot's history (new sequence numbers, the old stamps).
    for k, state in enumerate((0, 2, 4, 0, 2)):
        report(cloud, robot, tid, state, reason="blocked" if state == 4 else "", ts=t0 + k)
    after = cloud.http.get(f"/v1/sites/{site}/tasks/{tid}", headers=manager(cloud)).json()
    assert after["history"] == before["history"]


def test_a_late_report_of_the_old_holder_is_refused_and_logged(cloud, site):
    """The record is monotonic under the fencing (migration 0014): the old holder's reports that were uploaded late
    (a partition healing, a restarted bridge) come from an assignment older than the new holder's and are refused,
    each logged with the reason; the old holder's reports after a genuine later re-assignment still count."""
    old, new = cloud.robot("tasks-rg", site), cloud.robot("tasks-rh", site)
    tid = create(cloud).json()["task_id"]
    url = f"/v1/sites/{site}/tasks/{tid}"
    t0 = time.time() - 60.0
    report(cloud, old, tid, 0, ts=t0)  # the old holder accepted; its further reports wait in its uplink
    report(cloud, new, tid, 0, ts=t0 + 20)  # lease ran out, the leader handed the task over: the new holder
    report(cloud, new, tid, 2, progress=0.2, ts=t0 + 21)
    before = cloud.http.get(url, headers=manager(cloud)).json()
    assert before["state"] == "in_progress" and before["robot_id"] == "tasks-rh"
    report(cloud, old, tid, 2, progress=0.5, ts=t0 + 5)  # the old holder's uplink comes back: progress ...
    report(cloud, old, tid, 0, ts=t0 + 6)  # ... an ACCEPTED (e.g. a re-sent history) ...
    report(cloud, old, tid, 3, reason="delivered", ts=t0 + 8)  # ... and a completion under the old assignment
    after = cloud.http.get(url, headers=manager(cloud)).json()
    assert after["state"] == "in_progress" and after["robot_id"] == "tasks-rh"
    assert after["history"] == before["history"]
    refused = after["refused_reports"]
    assert [(r["robot_id"], r["state"]) for r in refused] == [("tasks-rg", 2), ("tasks-rg", 0), ("tasks-rg", 3)]
    assert all("older than the current assignment" in r["reason"] and "tasks-rh" in r["reason"] for r in refused)
    assert cloud.http.get(url, headers=cloud.token("operator", (site,))).json()["refused_reports"] == refused
    # the new holder gives it up; the leader gives it back to the old robot later: its new reports count
    report(cloud, new, tid, 4, reason="left knee motor shut down (overheating)", ts=t0 + 30)
    report(cloud, old, tid, 0, ts=t0 + 31)
    report(cloud, new, tid, 0, ts=t0 + 25)  # the hot robot's stale ACCEPTED (before its FAILED): a replay, ignored
    report(cloud, old, tid, 3, reason="delivered", ts=t0 + 40)
    done = cloud.http.get(url, headers=manager(cloud)).json()
    assert done["state"] == "done" and done["robot_id"] == "tasks-rg"
    assert len(done["refused_reports"]) == 3
    replay_with_sigma_tasks(done)


def test_a_report_from_an_older_term_is_refused_whatever_its_stamp(cloud, site):
    """Reports carry the leader's term of the assignment (TaskStatus.term, migration 0016): the record orders them by
    term first. An old holder's completion stamped AFTER the new holder's reports (its clock ahead, or a report held
    back and re-stamped) would pass the time rule of 0014; its older term refuses it. A newer term wins even when the
    new holder's clock is behind."""
    old, new = cloud.robot("tasks-rt", site), cloud.robot("tasks-ru", site)
    tid = create(cloud).json()["task_id"]
    url = f"/v1/sites/{site}/tasks/{tid}"
    t0 = time.time() - 60.0
    report(cloud, old, tid, 0, ts=t0, term=6)
    report(cloud, new, tid, 0, ts=t0 - 5, term=7)  # a newer leader's assignment; this robot's clock is 5 s behind
    taken = cloud.http.get(url, headers=manager(cloud)).json()
    assert taken["state"] == "assigned" and taken["robot_id"] == "tasks-ru" and taken["term"] == 7
    report(cloud, old, tid, 3, reason="delivered", ts=t0 + 30, term=6)  # later stamp, older term
    report(cloud, old, tid, 2, progress=0.5, ts=t0 + 31, term=6)
    after = cloud.http.get(url, headers=manager(cloud)).json()
    assert after["state"] == "assigned" and after["robot_id"] == "tasks-ru" and after["history"] == taken["history"]
    assert [(r["robot_id"], r["state"]) for r in after["refused_reports"]] == [("tasks-rt", 3), ("tasks-rt", 2)]
    assert all("older term" in r["reason"] and "term 6" in r["reason"] and "term 7" in r["reason"]
               for r in after["refused_reports"])
    report(cloud, new, tid, 2, progress=0.4, ts=t0 + 32, term=7)
    report(cloud, new, tid, 3, reason="delivered", ts=t0 + 40, term=7)
    done = cloud.http.get(url, headers=manager(cloud)).json()
    assert done["state"] == "done" and done["robot_id"] == "tasks-ru"
    assert done["history"][-1]["term"] == 7
    replay_with_sigma_tasks(done)


def test_progress_from_a_robot_that_does_not_hold_the_task_is_refused_and_logged(cloud, site):
    holder, stranger = cloud.robot("tasks-ri", site), cloud.robot("tasks-rj", site)
    tid = create(cloud).json()["task_id"]
    report(cloud, holder, tid, 0)
    report(cloud, stranger, tid, 2, progress=0.9)
    detail = cloud.http.get(f"/v1/sites/{site}/tasks/{tid}", headers=manager(cloud)).json()
    assert detail["state"] == "assigned" and detail["robot_id"] == "tasks-ri"
    [refusal] = detail["refused_reports"]
    assert refusal["robot_id"] == "tasks-rj" and "does not hold the task" in refusal["reason"]


def test_refusals_are_site_scoped_and_read_only(cloud, site):
    holder, stranger = cloud.robot("tasks-rk", site), cloud.robot("tasks-rl", site)
    tid = create(cloud).json()["task_id"]
    report(cloud, holder, tid, 0)
    report(cloud, stranger, tid, 2)
    conn = psycopg.connect(cloud.runtime.api_url, autocommit=True)

    def run(principal: Principal, sql: str) -> list[tuple]:
        with conn.transaction():
            conn.execute(IDENTITY_SQL, identity_params(principal))
            return conn.execute(sql).fetchall()

    try:
        other = Principal("m", "site_manager", ("tasks-b",))
        mine = f"SELECT count(*) FROM task_report_refusals WHERE task_id = '{tid}'"
        assert run(other, mine) == [(0,)]
        assert run(Principal("m", "site_manager", ("tasks-a",)), mine) == [(1,)]
        assert run(Principal("a", "fleet_admin"), mine) == [(1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(Principal("a", "fleet_admin"), "DELETE FROM task_report_refusals RETURNING 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(Principal("device:x", "device", robot_id="x"), "SELECT count(*) FROM task_report_refusals")
    finally:
        conn.close()


def outcomes(cloud, robot, term: int, *items: tuple[str, str, str]):
    body = json.dumps({"term": term, "tasks": [{"task_id": t, "outcome": o, "reason": r} for t, o, r in items]})
    return cloud.device_post(robot, f"/v1/devices/{robot.robot_id}/leadership/tasks", body.encode())


def test_the_leader_reports_why_a_task_waits_and_fails_an_overdue_one_fenced_by_its_term(cloud, site):
    """What only the leader knows reaches the record (migration 0015); a deposed leader's late update is a 409
    problem+json and changes nothing; so is one from a robot that never claimed the term."""
    cloud.ensure_site("tasks-c")
    put = cloud.http.put("/v1/sites/tasks-c/places", json={"places": PLACES}, headers=cloud.token())
    assert put.status_code == 200, put.text
    old, new = cloud.robot("tasks-lc1", "tasks-c"), cloud.robot("tasks-lc2", "tasks-c")
    mgr = manager(cloud, "tasks-c")
    waiting = create(cloud, site="tasks-c", headers=mgr).json()["task_id"]
    overdue = create(cloud, site="tasks-c", headers=mgr).json()["task_id"]
    assert cloud.device_post(old, "/v1/devices/tasks-lc1/leadership", b'{"term": 3}').json()["leader"] is True
    r = outcomes(cloud, old, 3, (waiting, "waiting", "no feasible robot: payload above the robot's capability (2)"),
                 (overdue, "failed", "deadline passed: no feasible robot"), (str(uuid.uuid4()), "failed", "x"))
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["results"]] == ["applied", "applied", "unknown"]
    w = cloud.http.get(f"/v1/sites/tasks-c/tasks/{waiting}", headers=mgr).json()
    assert w["state"] == "queued" and w["waiting_reason"].startswith("no feasible robot: payload")
    f = cloud.http.get(f"/v1/sites/tasks-c/tasks/{overdue}", headers=mgr).json()
    assert f["state"] == "failed" and f["history"][-1]["actor"] == "leader:tasks-lc1"
    assert f["history"][-1]["term"] == 3 and "deadline passed" in f["reason"]
    replay_with_sigma_tasks(f)
    # a new leader takes office (term 4); the old one's late update is refused with 409 and changes nothing
    assert cloud.device_post(new, "/v1/devices/tasks-lc2/leadership", b'{"term": 4}').json()["leader"] is True
    late = outcomes(cloud, old, 3, (waiting, "failed", "deadline passed"))
    assert late.status_code == 409 and late.headers["content-type"] == "application/problem+json"
    assert late.json()["type"].endswith("stale-term") and "older than" in late.json()["detail"]
    assert cloud.http.get(f"/v1/sites/tasks-c/tasks/{waiting}", headers=mgr).json()["state"] == "queued"
    unclaimed = outcomes(cloud, old, 5, (waiting, "failed", "deadline passed"))  # a term it never claimed
    assert unclaimed.status_code == 409 and "has not claimed" in unclaimed.json()["detail"]
    bad = cloud.device_post(new, "/v1/devices/tasks-lc2/leadership/tasks", b'{"term": 4, "tasks": []}')
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert outcomes(cloud, old, 4, (waiting, "failed", "x")).status_code == 409  # term 4 is another robot's
    # a robot's report moves the task out of the queue: the wait's reason goes, and a later outcome is 'unchanged'
    report(cloud, new, waiting, 0)
    moved = cloud.http.get(f"/v1/sites/tasks-c/tasks/{waiting}", headers=mgr).json()
    assert moved["state"] == "assigned" and moved["waiting_reason"] == ""
    again = outcomes(cloud, new, 4, (waiting, "failed", "deadline passed"))
    assert again.status_code == 200 and again.json()["results"][0]["result"] == "unchanged"
