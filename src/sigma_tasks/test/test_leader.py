"""The leader's task duty (no ROS): cloud decisions in, Task requests out, TaskStatus reports, hand-over on failure."""

from sigma_tasks.allocator import BoardParams
from sigma_tasks.cost import RobotState
from sigma_tasks.leader import ACCEPTED, ACTIVE, FAILED, SUCCEEDED, LeaderTasks, spec_from_parameters
from sigma_tasks.states import TaskState

DECISION = {"task_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "kind": "deliver", "pickup": "shelf_0_0",
            "dropoff": "packing", "payload_mass": "4", "priority": "3", "earliest_start": "0.000", "deadline": ""}


def robots(*ids, **kw):
    return [RobotState(r, (-8.0 + 4 * k, -5.0), **kw) for k, r in enumerate(ids)]


def test_cloud_task_to_robot_request_and_back(site):
    leader = LeaderTasks(site, leader="r1", term=3, board=BoardParams(lease_s=10), now=-30.0)
    assert leader.on_decision("fleet_task", DECISION, now=0.0) is None
    assert leader.on_decision("fleet_task", DECISION, now=0.5) is None  # the cloud re-sends: still one task
    [req] = leader.tick(robots("r1", "r2"), now=1.0)
    assert (req.robot_id, req.kind, req.pickup, req.dropoff, req.payload_mass, req.priority, req.term) == (
        "r1", 1, "shelf_0_0", "packing", 4.0, 75, 3)
    assert req.issuer == "swarm:r1" and req.lease_until == 11.0
    leader.on_status("r1", req.task_id, ACCEPTED, "", now=2.0)
    leader.on_status("r1", req.task_id, ACTIVE, "", now=9.0)  # progress renews the lease
    assert leader.tick(robots("r2"), now=15.0) == []  # not handed over: its lease now ends at 19 s
    leader.on_status("r1", req.task_id, SUCCEEDED, "", now=16.0)
    rec = leader.board.records[req.task_id]
    assert rec.state is TaskState.DONE and rec.robot_id == "r1"


def test_failed_robot_hands_its_task_over(site):
    leader = LeaderTasks(site, leader="r1", term=1, now=-30.0)
    leader.on_decision("fleet_task", DECISION, now=0.0)
    [req] = leader.tick(robots("r2", "r3"), now=0.0)
    leader.on_status(req.robot_id, req.task_id, ACTIVE, "", now=1.0)
    leader.on_status(req.robot_id, req.task_id, FAILED, "left knee motor shut down (overheating)", now=2.0)
    other = {"r2": "r3", "r3": "r2"}[req.robot_id]
    [again] = leader.tick([r for r in robots("r2", "r3") if r.robot_id == other], now=2.5)
    assert again.robot_id == other and again.task_id == req.task_id
    history = leader.board.records[req.task_id].history
    assert any("overheating" in h.reason for h in history)


def test_a_second_task_does_not_disturb_the_first(site):
    leader = LeaderTasks(site, leader="r1", term=1, now=-30.0)
    leader.on_decision("fleet_task", DECISION, now=0.0)
    leader.on_decision("fleet_task", {**DECISION, "task_id": "second", "pickup": "shelf_3_2"}, now=0.0)
    reqs = leader.tick(robots("r1"), now=0.0)
    assert len(reqs) == 2
    first, second = reqs
    leader.on_status("r1", first.task_id, ACTIVE, "", now=1.0)
    leader.on_status("r1", second.task_id, ACCEPTED, "", now=1.0)
    assert leader.board.records[first.task_id].state is TaskState.IN_PROGRESS


def test_bad_decisions_are_refused_with_a_reason(site):
    leader = LeaderTasks(site, leader="r1", term=1, now=-30.0)
    assert "unknown place" in leader.on_decision("fleet_task", {**DECISION, "dropoff": "mezzanine"}, now=0)
    assert "refused" in leader.on_decision("fleet_task", {**DECISION, "kind": "fly"}, now=0)
    assert "not a task action" in leader.on_decision("hold", {}, now=0)
    assert leader.on_decision("fleet_task_cancel", {"task_id": "nope"}, now=0) == "unknown or finished task"


def test_spec_from_parameters_round_trip():
    spec = spec_from_parameters({**DECISION, "deadline": "120.5"})
    assert spec.deadline == 120.5 and spec.payload_kg == 4.0 and spec.priority == 3


def test_a_new_leader_waits_out_older_leases(site):
    """Taking office at t=100, it holds what it learns until any older leader's lease ran out (10 + 1 s)."""
    leader = LeaderTasks(site, leader="r2", term=4, now=100.0)
    leader.on_decision("fleet_task", DECISION, now=100.0)
    assert leader.tick(robots("r2"), now=105.0) == []
    assert [r.task_id for r in leader.tick(robots("r2"), now=111.0)] == [DECISION["task_id"]]
