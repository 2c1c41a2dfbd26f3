"""The robot's and the leader's fleet-task duty without ROS: fencing by term, one task at a time to the executor,
a new leader adopting what a robot reports it holds, a failed task handed to another robot, config defaults."""

from __future__ import annotations

from pathlib import Path

from sigma_fleet_tasks.duty import (
    ASSIGN,
    CANCEL,
    RENEW,
    LeaderDuty,
    RobotDuty,
    assignment_payload,
    decode,
    site_from_places,
)
from sigma_fleet_tasks.settings import FleetTasksSettings

from sigma_ros_common.params import defaults, read_ros_parameters
from sigma_tasks.allocator import BoardParams
from sigma_tasks.leader import ACCEPTED, ACTIVE, CANCELED, FAILED, SUCCEEDED
from sigma_tasks.states import TaskState

CONFIG = Path(__file__).resolve().parents[1] / "config" / "fleet_tasks.yaml"
SITE = site_from_places([("dock_1", "dock", -13.5, -8.5), ("dock_3", "dock", 13.5, -8.5),
                         ("shelf_0_0", "shelf", -8.0, -4.8), ("shelf_0_2", "shelf", 8.0, -4.8)])
BOARD = BoardParams(lease_s=6.0, skew_s=1.0)
TASK = {"task_id": "t1", "kind": "deliver", "pickup": "shelf_0_2", "dropoff": "dock_3", "payload_mass": "3"}


def assignment(robot="r1", task="t1", lease=100.0):
    return {"robot": robot, "task": task, "kind": 1, "pickup": "shelf_0_2", "dropoff": "dock_3", "mass": 3.0,
            "prio": 0, "deadline": 0.0, "lease": lease}


def test_config_file_equals_the_defaults():
    assert read_ros_parameters(CONFIG) == defaults(FleetTasksSettings)


def test_robot_refuses_an_older_term_and_hands_one_task_at_a_time():
    robot = RobotDuty("r1")
    assert robot.on_command(ASSIGN, 5, assignment(), now=0.0) == "accepted"
    assert robot.on_command(ASSIGN, 4, assignment(task="old"), now=0.0).startswith("term 4 is older")
    assert robot.on_command(ASSIGN, 5, assignment(robot="r2", task="x"), now=0.0) == "not for this robot"
    assert robot.on_command(ASSIGN, 5, assignment(task="t2"), now=0.0) == "accepted"
    assert robot.next_request()["task"] == "t1"
    assert robot.next_request() is None  # t2 would preempt t1 at the executor: it waits
    robot.on_status("t1", ACTIVE, "")
    assert robot.on_status("t1", SUCCEEDED, "")
    assert robot.next_request()["task"] == "t2" and robot.at == "dock_3"
    assert robot.snapshot()["done"] == ["t1"]


def test_lease_runs_out_without_renewal_and_the_running_task_is_cancelled():
    robot = RobotDuty("r1")
    robot.on_command(ASSIGN, 1, assignment(lease=10.0), now=0.0)
    robot.next_request()
    assert robot.on_command(RENEW, 1, {"robot": "r1", "leases": {"t1": 20.0}}, now=5.0) == "renewed 1"
    assert robot.expire(15.0) is None
    assert robot.expire(20.0) == "t1"
    assert robot.snapshot()["holding"] is None


def test_leader_assigns_to_the_nearest_robot_that_reported():
    leader = LeaderDuty(SITE, leader="r1", term=2, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3"}})
    assert leader.on_decision("fleet_task", TASK, now=0.0) is None
    [req] = leader.tick(["r1", "r2", "r3"], [], now=0.0)  # r3 never reported: not offered work
    assert (req.robot_id, req.term) == ("r2", 2)
    assert decode(assignment_payload(req))["robot"] == "r2"
    assert leader.renewals() == {"r2": {"t1": req.lease_until}}


def test_a_new_leader_adopts_the_task_a_robot_holds_and_does_not_hand_it_out_again():
    """The robot's snapshot arrives before the cloud re-sends the task: it is kept and applied when it does."""
    leader = LeaderDuty(SITE, leader="r3", term=7, now=0.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r2": {"at": "dock_3", "holding": ["t1", 6, ACTIVE]}, "r3": {"at": "dock_3"}})
    leader.on_decision("fleet_task", TASK, now=0.5)
    rec = leader.tasks.board.records["t1"]
    assert rec.robot_id == "r2" and rec.state is TaskState.IN_PROGRESS
    for t in range(1, 30):
        assert leader.tick(["r2", "r3"], [], now=float(t)) == []
        leader.on_snapshot("r2", {"at": "dock_3", "holding": ["t1", 7, ACTIVE]}, now=float(t))
    assert leader.on_snapshot("r2", {"at": "dock_3", "holding": None, "done": ["t1"]}, now=30.0) == [
        ("t1", "in_progress", "done")]  # what the leader logs
    assert leader.tasks.board.records["t1"].state is TaskState.DONE
    assert leader.on_snapshot("r2", {"at": "dock_3", "holding": None, "done": ["t1"]}, now=31.0) == []


def test_a_robot_that_reports_failed_hands_its_task_to_another_and_cools_down():
    leader = LeaderDuty(SITE, leader="r1", term=1, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3"}})
    leader.on_decision("fleet_task", TASK, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    leader.on_snapshot("r2", {"at": "dock_3", "holding": ["t1", 1, ACCEPTED]}, now=1.0)
    assert leader.on_snapshot("r2", {"at": "dock_3", "holding": None, "failed": [["t1", "knee motor overheating"]]},
                              now=2.0) == [("t1", "assigned", "queued")]
    [again] = leader.tick(["r1", "r2"], [], now=2.5)
    assert (req.robot_id, again.robot_id, again.task_id) == ("r2", "r1", "t1")
    assert any("overheating" in h.reason for h in leader.tasks.board.records["t1"].history)
    robot = RobotDuty("r2")
    robot.on_command(ASSIGN, 1, assignment(robot="r2"), now=0.0)
    robot.next_request()
    robot.on_status("t1", FAILED, "knee motor overheating")
    assert robot.snapshot()["failed"] == [("t1", "knee motor overheating")]


def test_a_malformed_snapshot_raises_a_plain_error_the_node_can_log():
    leader = LeaderDuty(SITE, leader="r1", term=1, now=0.0, board=BOARD, cooldown_s=60.0, snapshots={})
    for bad in ({"holding": "t1"}, {"holding": ["t1"]}, {"failed": [1]}, {"holding": ["t1", "x", 2]}):
        try:
            leader.on_snapshot("r2", bad, now=1.0)
        except (ValueError, TypeError, KeyError, IndexError):
            continue
    leader.on_snapshot("r2", {"at": "dock_3"}, now=2.0)  # the board still works
    assert leader.robots(["r2"], now=2.0)[0].robot_id == "r2"


def test_a_robot_leading_the_next_term_keeps_what_its_board_knew():
    """Found across processes: a leader re-elected at once (term 2 -> 3) lost the task the cloud sent in term 2."""
    first = LeaderDuty(SITE, leader="r3", term=2, now=0.0, board=BOARD, cooldown_s=60.0, snapshots={})
    first.on_decision("fleet_task", TASK, now=0.1)
    second = LeaderDuty(SITE, leader="r3", term=3, now=0.5, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_3", "holding": ["t1", 1, ACTIVE]}},
                        records=first.tasks.board.records)
    rec = second.tasks.board.records["t1"]
    assert rec.robot_id == "r1" and rec.state is TaskState.IN_PROGRESS
    assert second.renewals() == {"r1": {"t1": 0.5 + BOARD.lease_s}}


def test_a_task_cancelled_at_the_cloud_stops_at_the_robot_at_once_without_a_cooldown():
    """Cancel while executing (what an Open-RMF user expects of a task API): the leader tells the holder at once
    instead of letting its lease run out; the robot cancels the running task at its executor; the robot's CANCELED
    report does not count as a failure (no cooldown), so it can take the next task straight away."""
    leader = LeaderDuty(SITE, leader="r1", term=2, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3"}})
    leader.on_decision("fleet_task", TASK, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    robot = RobotDuty("r2")
    robot.on_command(ASSIGN, 2, decode(assignment_payload(req)), now=0.0)
    assert robot.next_request()["task"] == "t1"
    robot.on_status("t1", ACTIVE, "")
    assert leader.on_decision("fleet_task_cancel", {"task_id": "t1", "reason": "order withdrawn"}, now=1.0) is None
    assert leader.take_cancels() == [("r2", "t1")] and leader.take_cancels() == []
    assert leader.tasks.board.records["t1"].state is TaskState.CANCELLED
    assert robot.on_command(CANCEL, 1, {"robot": "r2", "task": "t1"}, now=1.0).startswith("term 1 is older")
    assert robot.take_cancel() is None
    assert robot.on_command(CANCEL, 2, {"robot": "r2", "task": "t1"}, now=1.0) == "cancelling the running task"
    assert robot.take_cancel() == "t1" and robot.take_cancel() is None  # KIND_CANCEL to the executor, once
    robot.on_status("t1", CANCELED, "canceled by swarm:r2")
    leader.on_snapshot("r2", robot.snapshot(now=2.0), now=2.0)
    assert leader.tasks.board.records["t1"].state is TaskState.CANCELLED
    leader.on_decision("fleet_task", {**TASK, "task_id": "t2"}, now=2.0)
    [nxt] = leader.tick(["r1", "r2"], [], now=2.5)
    assert (nxt.task_id, nxt.robot_id) == ("t2", "r2")  # no cooldown after a cancel


def test_a_cancelled_task_that_has_not_started_is_dropped_from_the_robots_queue():
    robot = RobotDuty("r2")
    robot.on_command(ASSIGN, 3, assignment(robot="r2", task="t1"), now=0.0)
    robot.on_command(ASSIGN, 3, assignment(robot="r2", task="t2"), now=0.0)
    assert robot.next_request()["task"] == "t1"
    assert robot.on_command(CANCEL, 3, {"robot": "r2", "task": "t2"}, now=1.0) == "cancelled before it ran"
    assert robot.on_command(CANCEL, 3, {"robot": "r2", "task": "t9"}, now=1.0) == "not held"
    robot.on_status("t1", SUCCEEDED, "")
    assert robot.next_request() is None and robot.take_cancel() is None


def test_the_leader_tells_the_cloud_why_a_task_waits_and_that_an_overdue_one_failed():
    """What only the leader knows, for the cloud's record (POST /v1/devices/{robot}/leadership/tasks): each change of
    a queued task's infeasibility reason once, and a failure for its deadline."""
    leader = LeaderDuty(SITE, leader="r1", term=2, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1", "cap": {"kg": 2.0}}})
    leader.on_decision("fleet_task", {**TASK, "deadline": "20"}, now=0.0)  # 3 kg: above r1's 2 kg
    assert leader.tick(["r1"], [], now=0.0) == []
    [(tid, outcome, why)] = leader.take_outcomes()
    assert (tid, outcome) == ("t1", "waiting") and "payload above the robot's capability" in why
    for t in (6.0, 12.0):  # the same reason again: nothing new to tell
        leader.tick(["r1"], [], now=t)
    assert leader.take_outcomes() == []
    leader.tick(["r1"], [], now=21.0)
    [(tid, outcome, why)] = leader.take_outcomes()
    assert (tid, outcome) == ("t1", "failed") and why.startswith("deadline passed") and "payload" in why
    assert leader.take_outcomes() == []


def test_a_task_the_cloud_takes_away_from_a_degraded_robot_goes_to_another_robot():
    """The cloud's Primary AI holds r2 (degraded) and re-queues its task: the leader gets the task again with
    ``requeued_from=r2``; it tells r2 to cancel at once, r2's snapshots that still show the task do not win it back
    (each one repeats the cancel), and the next allocation gives it to r1 although r2 is nearer."""
    leader = LeaderDuty(SITE, leader="r1", term=2, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3"}})
    leader.on_decision("fleet_task", TASK, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    assert req.robot_id == "r2"
    leader.on_snapshot("r2", {"at": "dock_3", "holding": ["t1", 2, ACTIVE]}, now=0.5)
    assert leader.on_decision("fleet_task", {**TASK, "requeued_from": "r2"}, now=1.0) is None
    assert leader.take_cancels() == [("r2", "t1")]
    assert leader.tasks.board.records["t1"].state is TaskState.QUEUED
    leader.on_snapshot("r2", {"at": "dock_3", "holding": ["t1", 2, ACTIVE]}, now=1.5)  # not dropped yet
    assert leader.tasks.board.records["t1"].robot_id is None
    assert leader.take_cancels() == [("r2", "t1")]
    [again] = leader.tick(["r1", "r2"], [], now=2.0)
    assert (again.robot_id, again.task_id) == ("r1", "t1")
    robot = RobotDuty("r2")
    robot.on_command(ASSIGN, 2, decode(assignment_payload(req)), now=0.0)
    assert robot.next_request()["task"] == "t1"
    robot.on_status("t1", ACTIVE, "")
    assert robot.on_command(CANCEL, 2, {"robot": "r2", "task": "t1"}, now=1.0) == "cancelling the running task"


def test_a_new_leader_renews_a_running_task_on_the_robots_word_until_the_cloud_answers_its_claim():
    """Found in the main command (round 9): a new leader knows a task only once its claim at the cloud answers (the
    cloud re-sends the open tasks); on a loaded cloud that took longer than a lease, and r2 cancelled the task it was
    running when the lease ran out. Now the leader renews what a robot reports holding until the record is resumed;
    the task is then the board's (no second holder); a held task the record does not list is not renewed after."""
    robot = RobotDuty("r2")
    robot.on_command(ASSIGN, 6, assignment(robot="r2", lease=BOARD.lease_s), now=0.0)
    robot.next_request()
    robot.on_status("t1", ACTIVE, "")
    leader = LeaderDuty(SITE, leader="r3", term=7, now=1.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r2": robot.snapshot(1.0), "r3": {"at": "dock_1"}})
    for t in range(1, 30):  # 29 s without the cloud's answer: renewed from r2's reports, never handed out
        now = float(t)
        leader.on_snapshot("r2", robot.snapshot(now), now=now)
        assert leader.tick(["r2", "r3"], [], now=now) == []
        for tid_robot, leases in leader.renewals().items():
            assert tid_robot == "r2"
            assert robot.on_command(RENEW, 7, {"robot": "r2", "leases": leases}, now=now) == "renewed 1"
        assert robot.expire(now + 0.5) is None
    leader.on_decision("fleet_task", TASK, now=30.0)  # the claim answers: t1 is open, r2 holds it
    assert leader.resumed() == []
    rec = leader.tasks.board.records["t1"]
    assert (rec.robot_id, rec.state) == ("r2", TaskState.IN_PROGRESS)
    assert leader.renewals() == {"r2": {"t1": leader.tasks.board.lease_until["t1"]}}
    assert leader.tick(["r2", "r3"], [], now=31.0) == []


def test_a_held_task_the_cloud_does_not_list_is_not_renewed_once_the_record_is_resumed():
    leader = LeaderDuty(SITE, leader="r3", term=7, now=0.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_3", "holding": ["gone", 5, ACTIVE]},
                                   "r2": {"at": "dock_3", "holding": ["t1", 6, ACTIVE]}})
    leader.on_snapshot("r1", {"at": "dock_3", "holding": ["t1", 5, ACTIVE]}, now=0.5)  # an older term's holder
    assert leader.renewals() == {"r2": {"t1": 0.0 + BOARD.lease_s}}  # r1 no longer says it holds "gone"
    leader.on_snapshot("r1", {"at": "dock_3", "holding": ["gone", 5, ACTIVE]}, now=1.0)
    assert leader.renewals() == {"r1": {"gone": 1.0 + BOARD.lease_s}, "r2": {"t1": 0.0 + BOARD.lease_s}}
    leader.on_decision("fleet_task", TASK, now=2.0)  # the cloud's record: t1 open, "gone" not
    assert leader.resumed() == [("r1", "gone")]
    leader.on_snapshot("r1", {"at": "dock_3", "holding": ["gone", 5, ACTIVE]}, now=3.0)
    assert "gone" not in leader.renewals().get("r1", {})
    assert leader.tasks.board.records["t1"].robot_id == "r2"
