"""Unit tests of the stages: tracker, perception (ages, NaN), reasoning (constraints), self-evaluation."""

from __future__ import annotations

import math

import pytest

from sigma_core.core.perception import Perception, SafetyView
from sigma_core.core.reasoning import ReasoningParams, constrain
from sigma_core.core.selfeval import SelfEvalParams, SelfEvaluation
from sigma_core.core.tracker import TrackerParams, track

P = TrackerParams()


def test_tracker_turns_in_place_when_the_target_is_behind_then_drives():
    out = track(P, (0.0, 0.0, 0.0), ((0.0, 0.0), (-3.0, 0.0)), 1, 0.5, None)
    assert out.vx == 0.0 and abs(out.wz) == pytest.approx(P.max_turn_rate)
    out = track(P, (0.0, 0.0, math.pi), ((0.0, 0.0), (-3.0, 0.0)), 1, 0.5, None)
    assert out.vx == pytest.approx(0.5) and out.wz == pytest.approx(0.0, abs=1e-9)
    assert out.remaining == pytest.approx(3.0)


def test_tracker_speed_respects_the_limit_and_slows_on_the_final_approach():
    far = track(P, (0.0, 0.0, 0.0), ((0.0, 0.0), (5.0, 0.0)), 1, 0.3, None)
    near = track(P, (4.8, 0.0, 0.0), ((0.0, 0.0), (5.0, 0.0)), 1, 0.6, None)
    assert far.vx == pytest.approx(0.3) and near.vx < 0.3


def test_tracker_arrives_then_aligns_the_final_heading():
    out = track(P, (5.0, 0.05, 0.0), ((0.0, 0.0), (5.0, 0.0)), 1, 0.6, math.pi / 2)
    assert not out.arrived and out.vx == 0.0 and out.wz > 0
    out = track(P, (5.0, 0.05, math.pi / 2), ((0.0, 0.0), (5.0, 0.0)), 1, 0.6, math.pi / 2)
    assert out.arrived and out.vx == out.wz == 0.0


def test_tracker_skips_reached_waypoints_and_reports_cross_track_error():
    wps = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0))
    out = track(P, (1.9, 0.1, math.pi / 2), wps, 1, 0.6, None)
    assert out.index == 2
    out = track(P, (1.0, 0.5, 0.0), wps, 1, 0.6, None)
    assert out.cross_track == pytest.approx(0.5)


def test_perception_keeps_the_last_good_value_and_its_age_on_bad_input():
    p = Perception()
    assert p.update_odom(1.0, 2.0, 0.1, 0.0, 0.0, now=10.0)
    assert not p.update_odom(math.nan, 2.0, 0.1, 0.0, 0.0, now=10.5)
    w = p.snapshot(11.0)
    assert w.pose == (1.0, 2.0, 0.1) and w.pose_age == pytest.approx(1.0)
    assert "odom: non-finite" in w.rejected[-1]
    assert w.safety_age == math.inf and w.safety is None       # never received
    assert not p.update_battery(1.5, False, 11.0) and not p.update_humans([(math.inf, 0.0)], 11.0)
    assert not p.update_joints(["a", "b"], [0.0], 11.0)
    assert not p.update_safety(SafetyView(0, 7, 1.0, False, frozenset()), 11.0)
    assert len(p.snapshot(11.0).rejected) == 5


def world(**kw):
    p = Perception()
    p.update_odom(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), 0.0)
    p.update_humans(kw.get("humans", []), 0.0)
    p.update_battery(kw.get("soc", 0.8), False, 0.0)
    if "winding" in kw:
        p.update_health(["left_knee", "right_knee"], [kw["winding"], 30.0], 0.0)
    if "risk" in kw:
        p.update_twin_risk(kw["risk"], 0.0)
    return p.snapshot(kw.get("now", 0.1))


def test_reasoning_person_nearby_slows_the_plan():
    c = constrain(ReasoningParams(), world(humans=[(2.0, 0.5)]), 0.6)
    assert c.speed_limit == pytest.approx(0.3) and "person at 2.1 m" in c.reasons[0]
    assert constrain(ReasoningParams(), world(humans=[(8.0, 0.0)]), 0.6).speed_limit == pytest.approx(0.6)


def test_reasoning_hot_motor_lowers_the_payload_limit_linearly():
    r = ReasoningParams()
    assert constrain(r, world(winding=40.0), 0.6).payload_limit == pytest.approx(r.nominal_payload)
    mid = constrain(r, world(winding=(r.warm_winding + r.hot_winding) / 2), 0.6)
    assert mid.payload_limit == pytest.approx(r.nominal_payload / 2) and "left_knee winding" in mid.reasons[0]
    assert constrain(r, world(winding=r.hot_winding + 5), 0.6).payload_limit == 0.0


def test_reasoning_low_battery_means_charge_first_and_twin_risk_refuses_work():
    c = constrain(ReasoningParams(), world(soc=0.1), 0.6)
    assert c.charge_first and "charge first" in c.refuse_new_work
    c = constrain(ReasoningParams(), world(risk=0.8), 0.6)
    assert "twin forecasts failure risk 0.80" in c.refuse_new_work


def assess(ev, w, **kw):
    args = {"cross_track": 0.0, "remaining": math.nan, "moving_expected": False, "needs_joints": False,
            "last_rejected_at": None} | kw
    return ev.assess(w, **args)


def test_self_evaluation_nominal_stale_odometry_and_reasons():
    ev = SelfEvaluation(SelfEvalParams())
    a = assess(ev, world())
    assert a.confidence == 1.0 and a.reasons == ("nominal",)
    a = assess(ev, world(now=2.0))        # every input 2 s old
    assert a.confidence == 0.0 and "odometry stale" in a.reasons[0]


def test_self_evaluation_tracking_error_stall_and_twin_risk_lower_confidence():
    ev = SelfEvaluation(SelfEvalParams())
    assert assess(ev, world(), cross_track=0.9).confidence < 0.5
    assert assess(ev, world(risk=0.3)).confidence == pytest.approx(0.85)
    assert assess(ev, world(risk=1.0)).confidence == pytest.approx(0.5)
    # progress against expectation: remaining distance does not shrink for longer than stall_expectation
    p = Perception()
    for t in range(0, 10):
        p.update_odom(0.0, 0.0, 0.0, 0.0, 0.0, float(t))
        p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), float(t))
        p.update_humans([], float(t))
        a = assess(ev, p.snapshot(float(t)), remaining=5.0, moving_expected=True)
    assert a.confidence == 0.5 and "no progress" in a.reasons[0]
    # ... but a protective stop by safety (speed scale 0) is not the policy's fault
    p.update_safety(SafetyView(2, 1, 0.0, False, frozenset({302})), 10.0)
    p.update_odom(0.0, 0.0, 0.0, 0.0, 0.0, 10.0)
    p.update_humans([], 10.0)
    assert assess(ev, p.snapshot(10.0), remaining=5.0, moving_expected=True).confidence == 1.0


def test_self_evaluation_is_graded_late_odometry_holds_before_lost_odometry_collapses():
    ev, p = SelfEvaluation(SelfEvalParams()), Perception()
    p.update_odom(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), 0.7)
    p.update_humans([], 0.7)
    late = assess(ev, p.snapshot(0.7))
    assert late.confidence == 0.5 and "odometry late" in late.reasons[0]
    p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), 1.2)
    p.update_humans([], 1.2)
    assert assess(ev, p.snapshot(1.2)).confidence == 0.0
