"""The leader's board: fencing by term, leases, re-allocation on failure, resume by a new leader."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tasks_warehouse import WAREHOUSE as WAREHOUSE_PLACES

from sigma_tasks.allocator import Assignment, BoardParams, RobotReport, StaleTermError, TaskBoard
from sigma_tasks.cost import RobotState
from sigma_tasks.fence import AssignmentFence
from sigma_tasks.model import TaskKind, TaskSpec
from sigma_tasks.states import TaskState

SHELVES = [f"shelf_{r}_{c}" for r in range(4) for c in range(3)]


def deliver(tid, a="shelf_0_0", b="packing", kg=5.0):
    return TaskSpec(tid, TaskKind.DELIVER, pickup=a, dropoff=b, payload_kg=kg)


def fleet(n):
    return [RobotState(f"r{k}", (-10.0 + 3 * k, 0.0)) for k in range(n)]


def test_older_term_is_refused(site):
    board = TaskBoard(site, leader="r1", term=4)
    board.add(deliver("t"), at=0, actor="x")
    with pytest.raises(StaleTermError):
        board.allocate(fleet(1), now=0, term=3)
    assert board.allocate(fleet(1), now=0, term=5).assignments[0].term == 5


def test_robot_refuses_an_older_term_and_finished_tasks():
    fence = AssignmentFence("r1")
    new = Assignment("t1", "r1", term=5, leader="a", cost_s=1, finish_at=1, lease_until=10)
    old = Assignment("t2", "r1", term=4, leader="b", cost_s=1, finish_at=1, lease_until=10)
    assert fence.offer(new, now=0) == (True, "accepted")
    assert fence.offer(old, now=0)[0] is False
    fence.complete("t1")
    assert fence.offer(Assignment("t1", "r1", term=6, leader="c", cost_s=1, finish_at=1, lease_until=20), now=1) == (
        False, "already finished")
    other = Assignment("t3", "r2", term=6, leader="c", cost_s=1, finish_at=1, lease_until=20)
    assert fence.offer(other, now=1)[0] is False
    late = Assignment("t4", "r1", term=6, leader="c", cost_s=1, finish_at=1, lease_until=20)
    assert fence.offer(late, now=20) == (False, "lease already expired")


def test_robot_abandons_a_task_whose_lease_ran_out():
    fence = AssignmentFence("r1")
    fence.offer(Assignment("t1", "r1", term=1, leader="a", cost_s=1, finish_at=1, lease_until=10), now=0)
    assert fence.renew("t1", 20, term=1)
    assert fence.expire(15) == []
    assert fence.expire(20) == ["t1"] and fence.current() is None


def test_protective_stop_requeues_at_once_silent_failure_after_the_lease(site):
    board = TaskBoard(site, leader="L", term=1, board=BoardParams(lease_s=10, skew_s=1))
    board.add(deliver("a"), at=0, actor="x")
    board.add(deliver("b", a="shelf_3_2"), at=0, actor="x")
    res = board.allocate(fleet(2), now=0, term=1)
    by_robot = {a.robot_id: a.task_id for a in res.assignments}
    stopped, silent = "r0", "r1"
    assert board.robot_lost(stopped, at=2, reason="protective stop", confirmed_stopped=True) == [by_robot[stopped]]
    rec = board.records[by_robot[stopped]]
    assert rec.state is TaskState.QUEUED and "protective stop" in rec.history[-1].reason
    board.robot_lost(silent, at=2, reason="heartbeat lost", confirmed_stopped=False)
    assert board.expire_leases(10.5) == []  # the robot may still be working until its lease ends (10 + skew)
    assert board.expire_leases(11.0) == [by_robot[silent]]
    # Re-allocation to the remaining robot in the next round.
    res = board.allocate([RobotState("r9", (0.0, 0.0))], now=11.0, term=1)
    assert {a.task_id for a in res.assignments} == set(by_robot.values())


def test_overdue_queued_task_fails_with_its_reason(site):
    board = TaskBoard(site, leader="L", term=1)
    board.add(TaskSpec("t", TaskKind.DELIVER, pickup="shelf_0_0", dropoff="packing", payload_kg=90.0, deadline=60.0),
              at=0, actor="x")
    board.allocate(fleet(2), now=0, term=1)
    assert board.fail_overdue(61.0) == ["t"]
    rec = board.records["t"]
    assert rec.state is TaskState.FAILED and "payload" in rec.history[-1].reason


def test_new_leader_holds_unvouched_tasks_until_old_leases_ran_out(site):
    old = TaskBoard(site, leader="r0", term=1, board=BoardParams(lease_s=10, skew_s=1))
    old.add(deliver("a"), at=0, actor="x")
    old.add(deliver("b", a="shelf_3_2"), at=0, actor="x")
    cloud_record = dict(old.records)  # the cloud saw both tasks queued, not the assignments that follow
    res = old.allocate(fleet(2), now=1, term=1)
    held = {a.robot_id: a for a in res.assignments}
    # Only r1 can reach the new leader; it reports the task it holds.
    rep = RobotReport("r1", holding=held["r1"].task_id, holding_term=1, started=True)
    new = TaskBoard.resume(site, cloud_record, [rep], leader="r1", term=2, now=3,
                           board=BoardParams(lease_s=10, skew_s=1))
    assert new.records[held["r1"].task_id].robot_id == "r1"
    assert new.records[held["r1"].task_id].state is TaskState.IN_PROGRESS
    other = held["r0"].task_id
    assert new.allocate([RobotState("r1", (0, 0), queue_len=1)], now=5, term=2).assignments == []
    res = new.allocate([RobotState("r1", (0, 0), queue_len=1)], now=14, term=2)
    assert [a.task_id for a in res.assignments] == [other] and res.assignments[0].term == 2


def test_a_task_taken_away_from_a_degraded_robot_is_not_given_back_to_it(site):
    """The cloud takes a task away from r0 (degraded): r0's stale report of holding it does not win it back, the
    allocator gives it to another robot (or keeps it queued, saying why) until keep_away_s has passed."""
    board = TaskBoard(site, leader="L", term=2, board=BoardParams(lease_s=10, skew_s=1, keep_away_s=60))
    board.add(deliver("t"), at=0, actor="x")
    [a] = board.allocate(fleet(1), now=0, term=2).assignments
    assert a.robot_id == "r0"
    board.report(RobotReport("r0", holding="t", holding_term=2, started=True), now=1)
    assert board.keep_away("t", "r0", at=2, actor="cloud", reason="degraded: held by the cloud") is True
    rec = board.records["t"]
    assert rec.state is TaskState.QUEUED and rec.robot_id is None and "degraded" in rec.history[-1].reason
    # r0 has not dropped it yet: its report (same term) would re-assign it to r0 without the keep-away
    board.report(RobotReport("r0", holding="t", holding_term=2, started=True), now=3)
    assert board.records["t"].state is TaskState.QUEUED and "t" not in board.lease_until
    # only r0 is there: nothing allocated, and the reason names the keep-away
    res = board.allocate(fleet(1), now=4, term=2)
    assert res.assignments == [] and "taken away from this robot" in res.infeasible["t"]
    # r0 is the nearest of two robots, yet r1 gets it
    res = board.allocate(fleet(2), now=10, term=2)  # retry_s (5 s) after the infeasible round
    assert [(x.task_id, x.robot_id) for x in res.assignments] == [("t", "r1")]
    # r0 still claims it: r1 keeps it
    board.report(RobotReport("r0", holding="t", holding_term=2, started=True), now=11)
    assert board.records["t"].robot_id == "r1"


def test_keep_away_ends_after_its_time_and_ignores_other_robots(site):
    board = TaskBoard(site, leader="L", term=1, board=BoardParams(keep_away_s=60))
    board.add(deliver("t"), at=0, actor="x")
    assert board.keep_away("t", "r0", at=0, actor="cloud", reason="silent") is False  # r0 did not hold it
    assert board.is_kept_away("t", "r0", 59.9) and not board.is_kept_away("t", "r1", 1.0)
    assert board.allocate(fleet(1), now=1, term=1).assignments == []
    [a] = board.allocate(fleet(1), now=61, term=1).assignments
    assert a.robot_id == "r0" and board.kept_away == {}


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 12), st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=6),
       st.integers(0, 2**16))
def test_no_task_is_held_by_two_robots_in_a_term(n_robots, n_tasks, failures, seed):
    """Over rounds with failures in one term: every task has at most one live assignment at any time."""
    from sigma_tasks.model import SiteMap

    rng = np.random.default_rng(seed)
    board = TaskBoard(SiteMap.from_places(WAREHOUSE_PLACES), leader="L", term=7, board=BoardParams(lease_s=5, skew_s=1))
    for k in range(n_tasks):
        board.add(deliver(f"t{k}", a=SHELVES[rng.integers(12)], kg=float(rng.uniform(0, 30))), at=0, actor="x")
    robots = fleet(n_robots)
    live: dict[str, tuple[str, float]] = {}  # task -> (robot, lease_until)
    now = 0.0
    for step, (who, confirmed) in enumerate([*failures, (None, False)]):
        now = step * 3.0
        for tid in board.expire_leases(now):
            assert live.pop(tid)[1] + 1 <= now
        queued = {t for t, r in board.records.items() if r.robot_id}
        robots_now = [RobotState(r.robot_id, r.position, queue_len=sum(1 for t in queued if
                                 board.records[t].robot_id == r.robot_id)) for r in robots]
        res = board.allocate(robots_now, now=now, term=7)
        ids = [a.task_id for a in res.assignments]
        assert len(ids) == len(set(ids))
        for a in res.assignments:
            assert a.term == 7
            assert a.task_id not in live, f"{a.task_id} handed out while {live.get(a.task_id)} still holds it"
            live[a.task_id] = (a.robot_id, a.lease_until)
        if who is not None and who < n_robots:
            rid = f"r{who}"
            for tid in board.robot_lost(rid, at=now, reason="test", confirmed_stopped=confirmed):
                live.pop(tid)
    for tid, rec in board.records.items():
        assert (rec.robot_id is not None) == (tid in live)
