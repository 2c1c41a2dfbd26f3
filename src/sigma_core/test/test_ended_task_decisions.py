"""Primary AI decisions that name a task which already ended on this robot are refused, with the reason.

The cloud sees a robot's task through reports that lag; a rule that "renews" the task it last saw running (e.g. the
human-cluster slow-down re-sends the running task with a speed limit) may name a task the robot finished a moment
ago. Such a decision must neither re-run the task, nor become the Primary AI's lease (which would put the robot
under a Primary AI commander with nothing to do and let a later hold "preempt" the finished task), nor publish a
status that contradicts the task's final state.
"""

from __future__ import annotations

import pytest
from kinematic import KinematicRobot, warehouse

from sigma_core.core.arbiter import Decision, Mode
from sigma_core.core.pipeline import Pipeline
from sigma_core.core.tasks import FINAL, Kind, State, TaskSpec

SITE = warehouse()
DT = 0.05


def run_until(p: Pipeline, robot: KinematicRobot, t: float, until, limit: float = 120.0,
              move: bool = True) -> tuple[float, list]:
    """Tick in closed loop until ``until(statuses)`` holds; returns the time and every status published.
    ``move=False``: the robot is stuck (commands have no effect)."""
    seen: list = []
    while t < limit:
        robot.feed(p, t)
        out = p.tick(t)
        if out.payload_request is not None:
            p.confirm_payload(out.payload_request)
        if move:
            robot.apply(out, DT)
        seen += out.statuses
        t += DT
        if until(seen):
            return t, seen
    raise AssertionError(f"condition not met within {limit} s; statuses: {[(s.task_id, s.state) for s in seen]}")


def finished(task_id: str, state: State):
    return lambda seen: any(s.task_id == task_id and s.state == state for s in seen)


def renew(task_id: str, did: str, t: float, **extra: str) -> tuple[Decision, dict[str, str]]:
    return Decision(did, t, t + 2.0, 0.9), {"task_id": task_id, "place": "shelf_2_0", "speed_limit": "0.3", **extra}


def test_a_renewal_of_a_task_that_succeeded_is_refused_and_never_becomes_the_lease():
    p, robot = Pipeline(SITE), KinematicRobot()
    robot.authority = 0                                   # safety would allow the Primary AI: only the lease decides
    p.submit_task(TaskSpec("delivery-1", Kind.GO_TO, issuer="operator", place="shelf_2_0"), 0.0)
    t, _ = run_until(p, robot, 0.0, finished("delivery-1", State.SUCCEEDED))
    assert p.executor.spec is None
    # the cloud last saw delivery-1 running: its slow-down "renews" it
    d, params = renew("delivery-1", "human-cluster-1", t)
    verdict, reports = p.offer_decision(d, "go_to", params, t)
    assert not verdict.applied and reports == []
    assert "refused: task delivery-1 already ended on this robot (succeeded: done)" in verdict.reason
    assert p.arbiter.lease is None and p.executor.spec is None
    # a repeat of the same decision is a duplicate, a new one naming the task is refused again
    assert "duplicate" in p.offer_decision(d, "go_to", params, t + 0.1)[0].reason
    d2, _ = renew("delivery-1", "human-cluster-2", t + 0.2)
    assert "already ended" in p.offer_decision(d2, "go_to", params, t + 0.2)[0].reason
    # nothing runs, no Primary AI commander, and no status about delivery-1 after its SUCCEEDED
    t2, seen = t, []
    while t2 < t + 3.0:
        robot.feed(p, t2)
        out = p.tick(t2)
        assert out.commander != Mode.PRIMARY
        seen += out.statuses
        t2 += DT
    assert not [s for s in seen if s.task_id == "delivery-1"]


def test_a_hold_after_a_refused_renewal_preempts_nothing():
    """The round-3 symptom: a finished delivery later reported PREEMPTED by a cognition hold."""
    p, robot = Pipeline(SITE), KinematicRobot()
    robot.authority = 0
    p.submit_task(TaskSpec("delivery-1", Kind.GO_TO, issuer="operator", place="shelf_2_0"), 0.0)
    t, _ = run_until(p, robot, 0.0, finished("delivery-1", State.SUCCEEDED))
    d, params = renew("delivery-1", "human-cluster-1", t)
    assert not p.offer_decision(d, "go_to", params, t)[0].applied
    hold = Decision("hold-1", t + 0.5, t + 10.0, 0.95)
    verdict, reports = p.offer_decision(hold, "hold", {"task_id": "cognition-hold-1", "duration": "5",
                                                       "priority": "255"}, t + 0.5)
    assert verdict.applied
    assert [(r.task_id, r.state) for r in reports] == [("cognition-hold-1", State.ACCEPTED)]
    _, seen = run_until(p, robot, t + 0.5, finished("cognition-hold-1", State.SUCCEEDED), limit=t + 30.0)
    assert not [s for s in seen if s.task_id == "delivery-1"]


@pytest.mark.parametrize("end", ["failed", "canceled", "preempted"])
def test_decisions_naming_a_failed_cancelled_or_preempted_task_are_refused(end):
    p, robot = Pipeline(SITE), KinematicRobot()
    robot.authority = 0
    p.submit_task(TaskSpec("fleet-7", Kind.GO_TO, issuer="swarm:r2", place="shelf_2_0"), 0.0)
    t, _ = run_until(p, robot, 0.0, lambda seen: any(s.state == State.ACTIVE for s in seen))
    if end == "canceled":
        reports = p.submit_task(TaskSpec("fleet-7", Kind.CANCEL, issuer="swarm:r2"), t)
    elif end == "preempted":
        reports = p.submit_task(TaskSpec("other", Kind.HOLD, issuer="operator", duration=1.0, priority=10), t)
    else:
        t, reports = run_until(p, robot, t, finished("fleet-7", State.FAILED), move=False)   # stuck: no progress
    final = [r for r in reports if r.task_id == "fleet-7"][-1]
    assert final.state in FINAL and final.state.name.lower() == end
    for action, kind_params in (("go_to", {"place": "shelf_2_0"}), ("hold", {"duration": "3"}),
                                ("cancel", {})):
        d = Decision(f"renew-{action}", t, t + 2.0, 0.9)
        verdict, out = p.offer_decision(d, action, {"task_id": "fleet-7", **kind_params}, t)
        assert not verdict.applied and out == [], verdict
        assert f"task fleet-7 already ended on this robot ({end}" in verdict.reason
    lease = p.arbiter.lease
    assert lease is None or lease.decision_id not in {"renew-go_to", "renew-hold", "renew-cancel"}


def test_renewing_the_running_task_still_works_and_a_malformed_decision_takes_no_lease():
    p, robot = Pipeline(SITE), KinematicRobot()
    robot.authority = 0
    p.submit_task(TaskSpec("run-1", Kind.GO_TO, issuer="operator", place="shelf_2_0"), 0.0)
    t, _ = run_until(p, robot, 0.0, lambda seen: any(s.state == State.ACTIVE for s in seen))
    d, params = renew("run-1", "slow-1", t)
    verdict, _ = p.offer_decision(d, "go_to", params, t)
    assert verdict.applied and verdict.reason == "lease renewed for task run-1"
    assert p.arbiter.lease is not None and p.arbiter.lease.decision_id == "slow-1"
    bad = Decision("bad-1", t + 0.1, t + 2.0, 0.9)
    verdict, _ = p.offer_decision(bad, "fly", {"task_id": "run-1"}, t + 0.1)
    assert not verdict.applied and "action 'fly'" in verdict.reason
    assert p.arbiter.lease.decision_id == "slow-1"          # the malformed decision did not become the lease
    assert "duplicate" in p.offer_decision(bad, "fly", {"task_id": "run-1"}, t + 0.2)[0].reason
