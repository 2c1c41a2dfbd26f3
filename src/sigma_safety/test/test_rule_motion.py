"""Rule 4: joint speed/acceleration limits, tracking error (collision/stuck joint), tilt and free fall."""

from __future__ import annotations

import math

from helpers import limits

from sigma_safety.core.model import CommandSample, ImuSample, JointSample, Severity, Snapshot
from sigma_safety.core.rules.motion import (
    FREE_FALL,
    OVERACCELERATION,
    OVERSPEED,
    TILT,
    TRACKING_ERROR,
    MotionParams,
    MotionRule,
    tilt_angle,
)

LIM = limits()
NAMES = tuple(LIM)
P = MotionParams()


def _js(vel: dict[str, float], stamp: float, pos: dict[str, float] | None = None) -> JointSample:
    return JointSample(NAMES, tuple((pos or {}).get(n, 0.5) for n in NAMES), tuple(vel.get(n, 0.0) for n in NAMES),
                       (0.0,) * len(NAMES), stamp, stamp)


def _codes(out):
    return [(f.code, f.source) for f in out.faults]


def test_joint_speed_limit_uses_urdf_velocity_and_margin():
    rule = MotionRule(P, LIM)
    assert rule.evaluate(Snapshot(joints=_js({"left_knee": 5.0 * 1.1}, 1.0)), 1.0).faults == ()
    out = rule.evaluate(Snapshot(joints=_js({"left_knee": -5.6}, 1.0)), 1.0)
    assert _codes(out) == [(OVERSPEED, "left_knee")] and out.faults[0].latched and out.speed_scale == 0.0


def test_joint_acceleration_from_successive_samples():
    rule = MotionRule(P, LIM)
    prev, cur = _js({"neck_yaw": 0.0}, 1.0), _js({"neck_yaw": 2.0}, 1.004)  # 500 rad/s²
    assert _codes(rule.evaluate(Snapshot(joints=cur, previous_joints=prev), 1.0)) == [(OVERACCELERATION, "neck_yaw")]
    cur = _js({"neck_yaw": 1.0}, 1.004)  # 250 rad/s²
    assert rule.evaluate(Snapshot(joints=cur, previous_joints=prev), 1.0).faults == ()


def test_tracking_error_must_persist_before_it_counts():
    rule = MotionRule(P, LIM)
    cmd = CommandSample({"left_knee": 2.0}, 0.0)
    snap = Snapshot(joints=_js({}, 0.0, {"left_knee": 1.0}), command=cmd)
    assert rule.evaluate(snap, 0.0).faults == ()
    assert rule.evaluate(snap, P.tracking_error_time - 0.01).faults == ()
    assert _codes(rule.evaluate(snap, P.tracking_error_time)) == [(TRACKING_ERROR, "left_knee")]
    ok = Snapshot(joints=_js({}, 0.0, {"left_knee": 1.9}), command=cmd)
    assert rule.evaluate(ok, 1.0).faults == ()
    assert rule.evaluate(snap, 1.1).faults == ()  # the timer restarted


def _imu(tilt: float, accel: float) -> Snapshot:
    q = (math.sin(tilt / 2), 0.0, 0.0, math.cos(tilt / 2))
    return Snapshot(imu=ImuSample(q, (0.0, 0.0, accel), 0.0))


def test_tilt_beyond_limit_is_a_fall():
    rule = MotionRule(P, LIM)
    assert abs(tilt_angle((math.sin(0.3), 0.0, 0.0, math.cos(0.3))) - 0.6) < 1e-9
    assert rule.evaluate(_imu(0.59, 9.81), 0.0).faults == ()
    out = rule.evaluate(_imu(0.7, 9.81), 0.0)
    assert _codes(out) == [(TILT, "imu")] and out.faults[0].severity == Severity.EMERGENCY_STOP
    assert tilt_angle((0.0, 0.0, 0.0, 0.0)) == math.pi


def test_free_fall_needs_low_specific_force_for_a_while():
    rule = MotionRule(P, LIM)
    assert rule.evaluate(_imu(0.0, 0.5), 0.0).faults == ()
    assert _codes(rule.evaluate(_imu(0.0, 0.5), P.free_fall_time)) == [(FREE_FALL, "imu")]
    assert rule.evaluate(_imu(0.0, 9.8), 0.2).faults == ()
    assert rule.evaluate(_imu(0.0, 0.5), 0.21).faults == ()
