"""Consulting the digital twin before a long or heavy task: the workload estimate, the verdict from the twin's
what-if answer (refuse / derate / accept), the maintenance window, and the executor acting on them."""

from __future__ import annotations

import math

import pytest
from test_behaviour_trees import ready

from sigma_core.core.forecast import (
    ARM_JOINTS,
    ForecastParams,
    Judgement,
    estimate,
    judge,
    window_conflict,
    worth_asking,
)
from sigma_core.core.tasks import Kind, State, TaskSpec

P = ForecastParams()


def test_the_workload_estimate_and_which_tasks_are_worth_asking_about():
    heavy = TaskSpec("d", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=6.0)
    load = estimate(heavy, [(0.0, 0.0), (4.0, 0.0), (4.0, 3.0)], {"left_elbow": 2.0, "right_elbow": -2.0}, P)
    assert load.duration == pytest.approx(7.0 * P.detour_factor / P.travel_speed + P.arm_time)
    cur = dict(zip(load.joints, load.rms_current, strict=True))
    assert cur["left_elbow"] == pytest.approx(2.0 + 3.0 * P.amps_per_kg) == cur["right_elbow"]
    assert cur["left_shoulder_pitch"] == pytest.approx(3.0 * P.amps_per_kg) and set(load.joints) == set(ARM_JOINTS)
    assert worth_asking(heavy, load, P)
    short = TaskSpec("g", Kind.GO_TO, place="1,0")
    assert not worth_asking(short, estimate(short, [(0.0, 0.0), (1.0, 0.0)], {}, P), P)
    far = estimate(short, [(0.0, 0.0), (60.0, 0.0)], {}, P)
    assert far.duration >= P.consult_duration and worth_asking(short, far, P)


def test_the_verdict_refuses_derates_or_accepts_with_the_twins_numbers():
    load = estimate(TaskSpec("d", Kind.DELIVER, pickup="a", dropoff="b", payload_mass=8.0), [(0, 0), (20, 0)], {}, P)
    joints = list(ARM_JOINTS)
    hot = judge(load, joints, [0.1, 0.2, 0.9, 0.3], [500.0, 400.0, 95.0, 300.0], P)
    assert hot.refuse.startswith("twin forecast: left_elbow reaches its winding limit with risk 0.90")
    assert "5 % quantile 95 s" in hot.refuse
    warm = judge(load, joints, [0.0, 0.0, 0.2, 0.1], [math.inf] * 4, P)
    assert not warm.refuse and warm.payload_cap == 8.0 and "derated" in warm.note
    calm = judge(load, joints, [0.0, 0.01, 0.0, 0.0], [math.inf] * 4, P)
    assert calm == Judgement(note="twin forecast: risk 0.01 at most")
    assert judge(load, joints, [math.nan] * 4, [math.nan] * 4, P).note == "twin forecast gave no usable risk"


def test_a_long_task_that_would_run_into_the_maintenance_window_is_refused():
    load = estimate(TaskSpec("g", Kind.GO_TO, place="x"), [(0.0, 0.0), (60.0, 0.0)], {}, P)   # 210 s
    assert "opens in 2.0 min" in window_conflict(load, 100.0 + 120.0, 100.0, P)
    assert "is open now" in window_conflict(load, 50.0, 100.0, P)
    assert window_conflict(load, 100.0 + 3600.0, 100.0, P) == ""
    assert window_conflict(load, math.nan, 100.0, P) == ""


def test_the_executor_refuses_derates_and_refuses_into_a_window():
    p, _r, t = ready()
    heavy = TaskSpec("h1", Kind.DELIVER, pickup="shelf_1_0", dropoff="shelf_0_2", payload_mass=6.0)
    load = p.wants_forecast(heavy)
    assert load is not None and load.payload == 6.0
    [no] = p.submit_task(heavy, t, judge(load, list(load.joints), [0.0, 0.0, 0.8, 0.0], [60.0] * 4, P))
    assert no.state == State.REFUSED and "left_elbow reaches its winding limit with risk 0.80" in no.reason
    assert p.executor.spec is None and p.wants_forecast(heavy) is None          # known now: not asked again
    mid = TaskSpec("h2", Kind.DELIVER, pickup="shelf_1_0", dropoff="shelf_0_2", payload_mass=4.0)
    [ok] = p.submit_task(mid, t, judge(p.wants_forecast(mid), list(ARM_JOINTS), [0.0, 0.0, 0.2, 0.0],
                                       [math.inf] * 4, P))
    assert ok.state == State.ACCEPTED and "derated" in ok.reason and ok.payload_limit == 4.0
    more = TaskSpec("h3", Kind.DELIVER, pickup="shelf_1_0", dropoff="dock_1", payload_mass=5.0, priority=1)
    [cap] = p.submit_task(more, t)
    assert cap.state == State.REFUSED and "above 4.0 kg" in cap.reason and "derated" in cap.reason
    p.perception.update_twin_window(t + 60.0)
    far = TaskSpec("w", Kind.GO_TO, place="13,-8", priority=2)                  # across the site: ~85 s
    [win] = p.submit_task(far, t)
    assert win.state == State.REFUSED and "maintenance window opens in 1.0 min" in win.reason
    assert "the task needs about 1.4 min" in win.reason
    near = TaskSpec("n", Kind.GO_TO, place="-9,0", priority=2)                  # a short task still fits
    assert p.submit_task(near, t)[-1].state == State.ACCEPTED
