"""The command gate: blocking, authority, clamping to URDF limits and speed scale, bad commands."""

from __future__ import annotations

import math

import pytest
from helpers import limits

from sigma_safety.core.gate import CommandGate, GateParams, JointCommand, Twist
from sigma_safety.core.model import Authority, Level, SafetyState

LIM = limits()
NAMES = list(LIM)


def state(level=Level.NOMINAL, authority=Authority.PRIMARY_AI, speed=1.0, brake=False) -> SafetyState:
    return SafetyState(level, authority, speed, 1.0, brake, (), 1, 0.0)


def gate(st: SafetyState | None = None, now: float = 0.0) -> CommandGate:
    g = CommandGate(GateParams(), LIM)
    g.set_measured(NAMES, [0.0, 0.0, 0.0, 1.0])
    g.set_state(st or state(), now)
    return g


def test_passes_and_clamps_to_urdf_limits_and_step():
    g = gate()
    v = g.joint_command(Authority.PRIMARY_AI, ["left_knee", "neck_yaw"], [5.0, 0.01], [], 0.0)
    assert isinstance(v.command, JointCommand)
    knee_step = 5.0 * GateParams().step_horizon
    assert v.command.position == pytest.approx((1.0 + knee_step, 0.01))
    assert v.command.velocity == (5.0, 3.0)
    g.set_measured(["left_knee"], [2.39])
    v = g.joint_command(Authority.PRIMARY_AI, ["left_knee"], [9.0], [], 0.0)
    assert v.command.position == (2.4,)


def test_speed_scale_limits_velocity_and_step():
    g = gate(state(speed=0.25))
    v = g.joint_command(Authority.PRIMARY_AI, ["waist_yaw"], [1.0], [10.0], 0.0)
    assert v.command.velocity == (0.5,)
    assert v.command.position == pytest.approx((0.5 * GateParams().step_horizon,))
    t = g.cmd_vel(Authority.PRIMARY_AI, 3.0, 4.0, 10.0, 0.0).command
    assert isinstance(t, Twist)
    assert math.hypot(t.vx, t.vy) == pytest.approx(0.25) and t.wz == pytest.approx(1.5 * 0.25)
    assert t.vx / t.vy == pytest.approx(0.75)  # direction kept


@pytest.mark.parametrize(("st", "reason"), [
    (state(Level.PROTECTIVE_STOP, speed=0.0), "stopped"),
    (state(Level.EMERGENCY_STOP, Authority.MECHANICAL_FALLBACK, 0.0, True), "stopped"),
    (state(authority=Authority.EDGE_AI), "authority is EDGE_AI"),
])
def test_blocks_when_stopped_or_wrong_authority(st, reason):
    g = gate(st)
    for v in (g.joint_command(Authority.PRIMARY_AI, ["neck_yaw"], [0.1], [], 0.0),
              g.cmd_vel(Authority.PRIMARY_AI, 0.1, 0.0, 0.0, 0.0)):
        assert not v.passed and reason in v.reason


def test_edge_ai_passes_when_it_holds_authority():
    g = gate(state(authority=Authority.EDGE_AI))
    assert g.cmd_vel(Authority.EDGE_AI, 0.1, 0.0, 0.0, 0.0).passed
    assert not g.cmd_vel(Authority.PRIMARY_AI, 0.1, 0.0, 0.0, 0.0).passed


def test_stale_or_missing_state_blocks_and_brakes():
    g = CommandGate(GateParams(), LIM)
    assert "no safety state" in g.cmd_vel(Authority.PRIMARY_AI, 0.1, 0, 0, 0.0).reason and g.is_brake(0.0)
    g = gate(now=0.0)
    assert not g.is_brake(0.1)
    v = g.cmd_vel(Authority.PRIMARY_AI, 0.1, 0, 0, GateParams().state_timeout + 0.01)
    assert not v.passed and "old" in v.reason and g.is_brake(1.0)


@pytest.mark.parametrize(("names", "pos", "vel", "reason"), [
    (["neck_yaw"], [0.1, 0.2], [], "malformed"),
    (["neck_yaw"], [0.1], [1.0, 2.0], "malformed"),
    (["neck_yaw", "neck_yaw"], [0.1, 0.1], [], "duplicate"),
    (["tail"], [0.1], [], "unknown joint"),
    (["neck_yaw"], [math.nan], [], "non-finite"),
    (["neck_yaw"], [0.1], [math.nan], "non-finite"),
])
def test_bad_commands_are_refused_with_reason(names, pos, vel, reason):
    v = gate().joint_command(Authority.PRIMARY_AI, names, pos, vel, 0.0)
    assert not v.passed and reason in v.reason
    assert "non-finite" in gate().cmd_vel(Authority.PRIMARY_AI, math.inf, 0, 0, 0.0).reason


def test_entering_stop_freezes_hold_posture_and_leaving_releases_it():
    g = gate()
    assert g.set_state(state(Level.PROTECTIVE_STOP, speed=0.0), 0.1) is True
    g.set_measured(["left_knee"], [1.5])  # sagging must not move the hold target
    hold, twist = g.hold_outputs()
    assert dict(zip(hold.names, hold.position, strict=True))["left_knee"] == 1.0 and twist == Twist()
    assert g.set_state(state(Level.PROTECTIVE_STOP, speed=0.0), 0.2) is False
    assert g.set_state(state(), 0.3) is False and g.hold is None


def test_zero_speed_request_holds_the_joint_with_a_positive_limit():
    v = gate(state(speed=0.5)).joint_command(Authority.PRIMARY_AI, ["left_knee", "neck_yaw"], [2.0, 1.0],
                                              [0.0, -1.0], 0.0)
    assert v.command.position == (1.0, 0.0) and v.command.velocity == (2.5, 1.5)
