"""Rule 3: ISO/TS 15066 speed and separation monitoring, with stop/resume hysteresis."""

from __future__ import annotations

import pytest

from sigma_safety.core.model import Human, HumansSample, Severity, Snapshot
from sigma_safety.core.rules.proximity import (
    SEPARATION_STOP,
    SLOW_DOWN,
    ProximityParams,
    ProximityRule,
    allowed_scale,
    protective_separation,
)

P = ProximityParams()


def _at(x: float, *, vx: float = 0.0, conf: float = 1.0) -> Snapshot:
    return Snapshot(humans=HumansSample((Human(x, 0.0, vx, 0.0, conf),), 0.0))


def test_protective_separation_matches_iso_ts_15066_terms():
    # v_h (T_r + T_s) + v_r T_r + v_r T_s / 2 + C + Z_d + Z_r with the defaults
    expected = 1.6 * 0.6 + 1.0 * 0.1 + 1.0 * 0.25 + 0.2 + 0.1 + 0.05
    assert protective_separation(P, 1.0, 1.6) == pytest.approx(expected)


def test_scale_is_one_far_away_and_zero_inside_static_separation():
    s_p_full = protective_separation(P, P.max_robot_speed, P.human_speed)
    assert allowed_scale(P, s_p_full, P.human_speed) == pytest.approx(1.0)
    assert allowed_scale(P, s_p_full - 0.1, P.human_speed) < 1.0
    assert allowed_scale(P, protective_separation(P, 0.0, P.human_speed), P.human_speed) == 0.0


def test_slow_down_then_stop_then_resume_only_after_delay():
    rule = ProximityRule(P)
    far = P.robot_radius + protective_separation(P, 1.0, 1.6) + 1.0
    assert rule.evaluate(_at(far), 0.0).faults == ()
    mid = P.robot_radius + protective_separation(P, 0.5, 1.6)
    out = rule.evaluate(_at(mid), 0.1)
    assert out.speed_scale == pytest.approx(0.5) and out.faults[0].code == SLOW_DOWN
    assert out.faults[0].severity == Severity.WARNING
    out = rule.evaluate(_at(P.robot_radius + 0.5), 0.2)
    assert out.speed_scale == 0.0 and out.faults[0].code == SEPARATION_STOP
    # the human leaves: the stop holds for resume_delay, then lifts
    assert rule.evaluate(_at(far), 0.3).speed_scale == 0.0
    assert rule.evaluate(_at(far), 0.3 + P.resume_delay - 0.01).speed_scale == 0.0
    assert rule.evaluate(_at(far), 0.3 + P.resume_delay).faults == ()


def test_no_flapping_between_stop_and_resume_scale():
    rule = ProximityRule(P)
    base = P.robot_radius + protective_separation(P, 0.0, 1.6)
    v_span = P.reaction_time + P.stopping_time / 2

    def at_scale(s: float) -> Snapshot:
        return _at(base + s * P.max_robot_speed * v_span)

    rule.evaluate(at_scale(0.01), 0.0)
    assert rule.stopped
    t = 0.0
    for k in range(200):  # oscillate between stop_scale and resume_scale: must stay stopped
        t += 0.05
        assert rule.evaluate(at_scale(0.06 if k % 2 else 0.19), t).speed_scale == 0.0
    t += 0.05
    rule.evaluate(at_scale(0.25), t)
    rule.evaluate(at_scale(0.25), t + P.resume_delay)
    assert not rule.stopped


def test_approach_speed_above_default_is_used_and_low_confidence_ignored():
    rule = ProximityRule(P)
    d = P.robot_radius + protective_separation(P, 0.5, 1.6)
    slow = rule.evaluate(_at(d, vx=-1.0), 0.0).speed_scale
    fast = ProximityRule(P).evaluate(_at(d, vx=-3.0), 0.0).speed_scale
    assert fast < slow
    assert ProximityRule(P).evaluate(_at(0.5, conf=0.1), 0.0).faults == ()
    assert ProximityRule(P).evaluate(Snapshot(), 0.0).faults == ()
