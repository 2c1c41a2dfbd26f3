"""Task execution tick by tick (py_trees, injected clock) against the kinematic stand-in: acceptance, steps,
bounded retries with recovery, preemption, cancel, duplicates, refusals with reasons."""

from __future__ import annotations

import math

import pytest
from kinematic import KinematicRobot, run, warehouse

from sigma_core.core.behaviours import ExecutionParams
from sigma_core.core.pipeline import CoreConfig, Pipeline
from sigma_core.core.tasks import Kind, State, TaskSpec

SITE = warehouse()


def ready(config: CoreConfig | None = None, **robot):
    p, r = Pipeline(SITE, config), KinematicRobot(**robot)
    t = run(p, r, 0.0, 1.5)
    return p, r, t


def finished(out):
    return any(s.state in (State.SUCCEEDED, State.FAILED, State.CANCELED) for s in out.statuses)


def statuses(robot, task_id=None):
    return [s for o in robot.log for s in o.statuses if task_id is None or s.task_id == task_id]


def test_delivery_runs_every_step_in_order_and_carries_the_payload():
    p, r, t = ready()
    [acc] = p.submit_task(TaskSpec("d1", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=4.0), t)
    assert acc.state == State.ACCEPTED and acc.payload_limit == pytest.approx(12.0)
    held = []
    run(p, r, t, 200, until=lambda o: held.append(r.payload) or finished(o))
    reports = statuses(r, "d1")
    steps = [s.step for s in reports if s.state == State.ACTIVE]
    order = ["navigate:pickup", "reach:pickup", "grasp", "lift", "navigate:dropoff", "reach:dropoff", "release",
             "retract"]
    assert [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s] == order
    assert reports[-1].state == State.SUCCEEDED and reports[-1].progress == 1.0
    assert 4.0 in held and r.payload == 0.0
    dock = SITE.places["dock_1"]
    assert math.hypot(r.x - dock.x, r.y - dock.y) < 0.2
    progress = [s.progress for s in reports if s.state == State.ACTIVE]
    assert progress == sorted(progress)           # monotone
    # only the edge AI's channel carried commands (safety allows edge here), and every tick had one commander
    assert {o.channel for o in r.log} <= {"edge_ai", None}


def test_refusals_name_the_reason_and_never_start_anything():
    p, _r, t = ready()
    cases = [
        (TaskSpec("a", Kind.GO_TO, place="nowhere"), "unknown place"),
        (TaskSpec("b", Kind.GO_TO, place="0,-2"), "not free"),
        (TaskSpec("c", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=30.0), "above the current"),
        (TaskSpec("d", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=math.nan), "payload_mass"),
        (TaskSpec("e", Kind.DOCK, charge_to=2.0), "charge_to"),
        (TaskSpec("f", Kind.GO_TO, place="dock_2", deadline=0.5), "deadline passed"),
        (TaskSpec("", Kind.HOLD), "task_id"),
        (TaskSpec("g", 9), "kind 9"),
    ]
    for spec, words in cases:
        [rep] = p.submit_task(spec, t)
        assert rep.state == State.REFUSED and words in rep.reason, (spec, rep)
    assert p.executor.spec is None


def test_hot_motor_derates_payload_and_low_battery_means_charge_first():
    p, _r, t = ready()
    p.perception.update_health(["left_knee"], [70.0], t)
    [rep] = p.submit_task(TaskSpec("h", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=8.0), t)
    assert rep.state == State.REFUSED and "left_knee winding 70 degC" in rep.reason
    p2, r2, t2 = ready(soc=0.1)
    [rep] = p2.submit_task(TaskSpec("g", Kind.GO_TO, place="shelf_1_0"), t2)
    assert rep.state == State.REFUSED and "charge first" in rep.reason
    [rep] = p2.submit_task(TaskSpec("c", Kind.DOCK, charge_to=0.12), t2)
    assert rep.state == State.ACCEPTED
    run(p2, r2, t2, 400, until=finished)
    assert statuses(r2, "c")[-1].state == State.SUCCEEDED and r2.soc >= 0.12


def test_duplicate_task_ids_are_answered_not_run_twice_and_preemption_and_cancel():
    p, r, t = ready()
    [a] = p.submit_task(TaskSpec("x", Kind.GO_TO, place="shelf_2_0"), t)
    assert p.submit_task(TaskSpec("x", Kind.GO_TO, place="dock_2"), t) == [a]
    t = run(p, r, t, 2.0)
    pre, acc = p.submit_task(TaskSpec("z", Kind.GO_TO, place="dock_2", priority=5, issuer="swarm:r9"), t)
    assert pre.task_id == "x" and pre.state == State.PREEMPTED and "preempted by task z" in pre.reason
    assert acc.task_id == "z" and acc.state == State.ACCEPTED
    [busy] = p.submit_task(TaskSpec("w", Kind.GO_TO, place="dock_1", priority=1), t)
    assert busy.state == State.REFUSED and "priority 5 > 1" in busy.reason
    [no] = p.submit_task(TaskSpec("x", Kind.CANCEL), t)
    assert no.state == State.PREEMPTED                                # x is known: its final state is the answer
    [c] = p.submit_task(TaskSpec("cz", Kind.CANCEL), t)
    assert c.state == State.REFUSED and "not running" in c.reason
    [c] = p.submit_task(TaskSpec("z", Kind.CANCEL, issuer="operator"), t)
    assert c.state == State.CANCELED and "canceled by operator" in c.reason and p.executor.spec is None
    assert p.submit_task(TaskSpec("z", Kind.CANCEL), t) == [c]


def test_navigation_without_progress_fails_after_bounded_retries_with_recovery():
    params = ExecutionParams(stall_timeout=2.0, navigate_retries=2, recovery_wait=0.5)
    p, r, t = ready(CoreConfig(execution=params))
    [_acc] = p.submit_task(TaskSpec("s", Kind.GO_TO, place="shelf_2_0"), t)
    r.speed_scale = 1e-9                       # the base does not move although allowed (stuck)
    t_end = run(p, r, t, 60, until=finished)
    final = statuses(r, "s")[-1]
    assert final.state == State.FAILED and "no progress" in final.reason
    recovers = [o for o in r.log if any(s.step.endswith("/recover") for s in o.statuses)]
    assert recovers                                                # the recovery ran between attempts
    # 3 attempts x 2 s stall + 2 recoveries x 0.5 s (+ tick granularity)
    assert 6.5 <= t_end - t <= 9.0


def test_grasp_fails_with_reason_when_the_hands_never_confirm():
    params = ExecutionParams(payload_timeout=1.0)
    p, r, t = ready(CoreConfig(execution=params), x=-8.0, y=-0.85, yaw=-math.pi / 2)
    p.submit_task(TaskSpec("g", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=3.0), t)
    while t < 40:
        r.feed(p, t)
        out = p.tick(t)                  # never confirm_payload: no gripper answer
        r.apply(out, 0.05)
        r.log.append(out)
        t += 0.05
        if finished(out):
            break
    final = statuses(r, "g")[-1]
    assert final.state == State.FAILED and "grasp: hands did not confirm 3.0 kg" in final.reason


def test_an_arm_step_waiting_for_a_flickering_speed_limit_still_times_out():
    """Safety scales speed to 0.1 with a one-tick recovery every 2 s (a flickering limit): the reach step's wait is
    bounded from its first wait (arm_wait_timeout), not restarted by each flicker."""
    params = ExecutionParams(arm_wait_timeout=5.0)
    p, r, t = ready(CoreConfig(execution=params), x=-8.0, y=-0.85, yaw=-math.pi / 2)
    p.submit_task(TaskSpec("f", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=3.0), t)
    first_wait, first_recover, t_end = None, None, t + 60.0
    while t < t_end:
        reaching = any(s.step == "reach:pickup" for s in (r.log[-1].statuses if r.log else ()))
        if reaching and first_wait is None:
            first_wait = t
        r.speed_scale = 1.0 if first_wait is None or round((t - first_wait) / 0.05) % 40 == 39 else 0.1
        r.feed(p, t)
        out = p.tick(t)
        r.apply(out, 0.05)
        r.log.append(out)
        if first_recover is None and any(st.step.endswith("/recover") for st in out.statuses):
            first_recover = t
        t += 0.05
        if finished(out):
            break
    final = statuses(r, "f")[-1]
    assert first_wait is not None and first_recover is not None
    assert final.state == State.FAILED and "for safety speed scale" in final.reason, final.reason
    # the first attempt gave up arm_wait_timeout after its first wait (through two flickers), then the bounded retry
    assert 5.0 <= first_recover - first_wait <= 5.0 + 0.2


def test_hold_runs_for_its_duration_and_stale_odometry_holds_still():
    p, r, t = ready()
    p.submit_task(TaskSpec("h", Kind.HOLD, duration=2.0), t)
    t2 = run(p, r, t, 10, until=finished)
    assert statuses(r, "h")[-1].state == State.SUCCEEDED and 1.9 <= t2 - t <= 2.2
    p.submit_task(TaskSpec("m", Kind.GO_TO, place="shelf_2_0"), t2)
    r.odom_alive = False
    t3 = run(p, r, t2, 0.5)
    x_half = r.x
    run(p, r, t3, 3.0)
    assert r.x == x_half                         # odometry stale: nothing but holds
    switches = [o.switch for o in r.log if o.switch is not None]
    assert switches[-1].current == 2 and "odometry stale" in switches[-1].reason


def test_a_task_from_an_older_leader_term_is_refused_fenced():
    p, r, t = ready()
    [a] = p.submit_task(TaskSpec("t5", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=5), t)
    assert a.state == State.ACCEPTED and a.term == 5  # every report echoes the assignment's term (for the cloud)
    t = run(p, r, t, 1.0)
    # the deposed leader (or any swarm issuer) with an older term: refused, the running task untouched
    [old] = p.submit_task(TaskSpec("t4", Kind.GO_TO, place="dock_2", priority=9, issuer="swarm:r2", term=4), t)
    assert old.state == State.REFUSED and "fenced: term 4" in old.reason and "older than term 5" in old.reason
    assert old.term == 4
    [c] = p.submit_task(TaskSpec("t5", Kind.CANCEL, issuer="swarm:r2", term=3), t)
    assert c.state == State.REFUSED and "fenced" in c.reason and p.executor.spec.task_id == "t5"
    # the same term (a lease renewal / next task of this leader) and unfenced issuers (term 0) are accepted
    pre, same = p.submit_task(TaskSpec("t5b", Kind.GO_TO, place="dock_2", issuer="swarm:r1", term=5), t)
    assert pre.state == State.PREEMPTED and same.state == State.ACCEPTED
    pre, op = p.submit_task(TaskSpec("op", Kind.GO_TO, place="dock_1", issuer="operator"), t)
    assert op.state == State.ACCEPTED
    # a newer term raises the fence for the whole "swarm" family
    pre, new = p.submit_task(TaskSpec("t7", Kind.GO_TO, place="dock_2", issuer="swarm:r3", term=7), t)
    assert new.state == State.ACCEPTED
    [stale] = p.submit_task(TaskSpec("t6", Kind.GO_TO, place="dock_1", issuer="swarm:r1", term=6), t)
    assert stale.state == State.REFUSED and "older than term 7" in stale.reason
    [bad] = p.submit_task(TaskSpec("tb", Kind.GO_TO, place="dock_1", issuer="swarm:r1", term=-1), t)
    assert bad.state == State.REFUSED and "term must be" in bad.reason and bad.term == 0


def test_a_newer_leader_re_assigning_a_known_task_gets_the_answer_under_its_term():
    # the CI's leader change: r1 ran shelf_3_1 under term 2 while a new leader (term 3) gave it to another robot,
    # then back to r1; r1's "done" under term 2 was refused by the cloud (older term), so the task stayed queued
    p, r, t = ready()
    [a] = p.submit_task(TaskSpec("s31", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=2), t)
    assert a.state == State.ACCEPTED and a.term == 2
    t = run(p, r, t, 1.0)
    [again] = p.submit_task(TaskSpec("s31", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r3", term=3), t)
    assert again.state == State.ACCEPTED and again.term == 3     # the running task is answered under term 3 ...
    assert p.executor.spec.term == 3                             # ... and reports under it from now on
    t = run(p, r, t, 200, until=finished)
    done = statuses(r, "s31")[-1]
    assert done.state == State.SUCCEEDED and done.term == 3
    [late] = p.submit_task(TaskSpec("s31", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r2", term=4), t)
    assert late.state == State.SUCCEEDED and late.term == 4      # an ended task: the same outcome, never run twice
    assert p.executor.spec is None
    [old] = p.submit_task(TaskSpec("s31", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=2), t)
    assert old.state == State.SUCCEEDED and old.term == 4        # an older term changes nothing
    [plain] = p.submit_task(TaskSpec("s31", Kind.GO_TO, place="shelf_2_0"), t)
    assert plain == old                                          # a retry without a term: the known answer


def test_a_task_let_go_runs_again_when_a_leader_assigns_it_again():
    # the CI's stuck task: r1 let shelf_3_1 go (its lease ran out in the leader change), the new leader gave it
    # back to r1 and then to r2, each answered with its old CANCELED, and the task stayed queued for ever
    p, r, t = ready()
    [a] = p.submit_task(TaskSpec("s", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r2", term=1), t)
    assert a.state == State.ACCEPTED
    t = run(p, r, t, 1.0)
    [c] = p.submit_task(TaskSpec("s", Kind.CANCEL, issuer="swarm:r1", term=1), t)
    assert c.state == State.CANCELED and p.executor.spec is None
    [again] = p.submit_task(TaskSpec("s", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=2), t)
    assert again.state == State.ACCEPTED and again.term == 2 and p.executor.spec.task_id == "s"
    [c2] = p.submit_task(TaskSpec("s", Kind.CANCEL, issuer="swarm:r1", term=2), t)
    assert c2.state == State.CANCELED
    [same] = p.submit_task(TaskSpec("s", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=2), t)
    assert same.state == State.ACCEPTED              # the same leader gives it back: it runs again too
    t = run(p, r, t, 200, until=finished)
    assert statuses(r, "s")[-1].state == State.SUCCEEDED
    # an operator's retry (no term) of a cancelled task is answered, never rerun; an older term changes nothing
    [op] = p.submit_task(TaskSpec("o", Kind.GO_TO, place="dock_1", issuer="operator"), t)
    assert op.state == State.ACCEPTED
    [oc] = p.submit_task(TaskSpec("o", Kind.CANCEL, issuer="operator"), t)
    [retry] = p.submit_task(TaskSpec("o", Kind.GO_TO, place="dock_1", issuer="operator"), t)
    assert oc.state == retry.state == State.CANCELED and p.executor.spec is None
    [old] = p.submit_task(TaskSpec("s", Kind.GO_TO, place="shelf_2_0", issuer="swarm:r1", term=1), t)
    assert old.state == State.SUCCEEDED and old.term == 2


def test_the_task_message_term_reaches_the_fence():
    from sigma_core import convert
    from sigma_interfaces.msg import Task
    spec = convert.task_spec(Task(task_id="m", issuer="swarm:r2", kind=Task.KIND_HOLD, term=12), 0.0)
    assert spec.term == 12 and spec.issuer == "swarm:r2"
    from builtin_interfaces.msg import Time

    from sigma_core.core.tasks import StatusReport
    report = StatusReport("m", Task.KIND_HOLD, State.ACCEPTED, term=12)
    assert convert.status_msg(report, Time()).term == 12  # TaskStatus.term: what the cloud orders reports by
