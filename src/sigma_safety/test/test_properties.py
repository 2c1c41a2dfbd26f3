"""Property-based tests (hypothesis): the safety invariants hold for thousands of generated cases."""

from __future__ import annotations

import math

from helpers import SECRET, Feeder, limits, make_policy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sigma_safety.core.gate import CommandGate, GateParams, JointCommand, Twist
from sigma_safety.core.model import Authority, Human, HumansSample, Level, SafetyState, Snapshot
from sigma_safety.core.rules.proximity import ProximityParams, ProximityRule

LIM = limits()
NAMES = list(LIM)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
finite = st.floats(min_value=-1e6, max_value=1e6)
authorities = st.sampled_from([Authority.PRIMARY_AI, Authority.EDGE_AI])


@st.composite
def commands(draw):
    """Mostly well-formed commands (so that many pass the gate), sometimes arbitrary ones."""
    if draw(st.integers(0, 4)) == 0:
        names = draw(st.lists(st.sampled_from([*NAMES, "bogus"]), max_size=6))
        return names, draw(st.lists(floats, max_size=6)), draw(st.lists(floats, max_size=6))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
    n = len(names)
    pos = draw(st.lists(st.floats(-10.0, 10.0) | floats, min_size=n, max_size=n))
    vel = draw(st.just([]) | st.lists(st.floats(-20.0, 20.0), min_size=n, max_size=n))
    return names, pos, vel


@st.composite
def gates(draw, level=None):
    """A gate holding an arbitrary state (biased towards states that let commands through)."""
    moving = st.sampled_from([Level.NOMINAL, Level.DEGRADED])
    lvl = draw(moving | moving | moving | st.sampled_from(list(Level))) if level is None else level
    state = SafetyState(lvl, draw(authorities | st.sampled_from(list(Authority))), draw(st.floats(0.0, 1.0)),
                        draw(st.floats(0.0, 1.0)), draw(st.sampled_from([False, False, False, True])), (), 1, 0.0)
    g = CommandGate(GateParams(), LIM)
    g.set_measured(NAMES, [draw(st.floats(LIM[n].lower, LIM[n].upper)) for n in NAMES])
    g.set_state(state, 0.0)
    return g


@settings(max_examples=1500, deadline=None)
@given(g=gates(level=Level.EMERGENCY_STOP), sender=authorities, cmd=commands(), tw=st.tuples(floats, floats, floats),
       t=st.floats(0.0, 100.0))
def test_in_emergency_stop_no_command_passes(g, sender, cmd, tw, t):
    assert not g.joint_command(sender, *cmd, t).passed
    assert not g.cmd_vel(sender, *tw, t).passed


@settings(max_examples=2000, deadline=None)
@given(g=gates(), data=st.data(), cmd=commands(), tw=st.tuples(floats, floats, floats))
def test_gate_output_is_within_joint_limits_and_speed_scale(g, data, cmd, tw):
    sender = data.draw(st.just(g.state.authority) | authorities) if g.state.authority < 2 else data.draw(authorities)
    scale = g.state.speed_scale
    v = g.joint_command(sender, *cmd, 0.0)
    event(f"joint command {'passed' if v.passed else 'blocked'}")
    if v.passed:
        assert g.state.level < Level.PROTECTIVE_STOP and not g.state.brake_engaged and sender == g.state.authority
        assert isinstance(v.command, JointCommand)
        for n, p, vel in zip(v.command.names, v.command.position, v.command.velocity, strict=True):
            assert LIM[n].lower <= p <= LIM[n].upper
            assert 0.0 < vel <= LIM[n].velocity * scale + 1e-12
            assert abs(p - g.measured[n]) <= LIM[n].velocity * scale * GateParams().step_horizon + 1e-9
    w = g.cmd_vel(sender, *tw, 0.0)
    if w.passed:
        assert isinstance(w.command, Twist)
        assert math.hypot(w.command.vx, w.command.vy) <= GateParams().max_linear_speed * scale + 1e-9
        assert abs(w.command.wz) <= GateParams().max_angular_speed * scale + 1e-12


@settings(max_examples=1500, deadline=None)
@given(start=st.floats(0.0, 15.0), steps=st.lists(st.tuples(st.floats(0.0, 0.5), st.floats(0.001, 0.5)),
                                                  min_size=1, max_size=40),
       angle=st.floats(-math.pi, math.pi), approach=st.floats(-3.0, 3.0))
def test_speed_scale_never_rises_as_a_human_comes_closer(start, steps, angle, approach):
    rule = ProximityRule(ProximityParams())
    d, t = start, 0.0
    vx, vy = approach * math.cos(angle), approach * math.sin(angle)  # fixed velocity: only distance varies
    last = rule.evaluate(Snapshot(humans=HumansSample((Human(d * math.cos(angle), d * math.sin(angle), vx, vy),),
                                                      t)), t).speed_scale
    for closer, dt in steps:
        d, t = max(0.0, d - closer), t + dt
        h = Human(d * math.cos(angle), d * math.sin(angle), vx, vy)
        scale = rule.evaluate(Snapshot(humans=HumansSample((h,), t)), t).speed_scale
        assert scale <= last + 1e-12
        last = scale


OPS = st.sampled_from(["feed", "hot", "cool", "warm", "tilt", "upright", "estop", "press", "release",
                       "bad_reset", "overload", "relax", "nan", "silence"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=20))
def test_no_latched_fault_clears_without_a_reset(ops):
    policy, feeder, now = make_policy()
    seen_latched: set[tuple[int, str]] = set()
    for op in ops:
        _apply(op, policy, feeder, now)
        if op == "silence":
            now += 0.5
            policy.evaluate(now)
        else:
            now = feeder.run(now, 0.04)
        keys = {f.key for f in policy.state.faults}
        assert seen_latched <= keys, f"latched fault(s) {seen_latched - keys} cleared without reset after {op}"
        seen_latched |= {f.key for f in policy.state.faults if f.latched}
        if seen_latched:
            assert policy.state.level >= Level.PROTECTIVE_STOP
    if seen_latched:
        result = policy.reset("prop", SECRET, now)
        if result.success:
            assert not any(f.latched and f.key in seen_latched and f.key not in policy.active
                           for f in policy.state.faults)


def _decision(s: SafetyState) -> tuple:
    keys = tuple(f.key for f in s.faults)
    return s.level, s.authority, s.speed_scale, s.torque_scale, s.brake_engaged, keys, s.sequence


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=15))
def test_a_message_that_changes_no_rule_output_keeps_the_state_a_full_combination_would_give(ops):
    """evaluate(now, topic) returns the last state when no re-run rule's output changed; a twin policy that always
    combines decides the same after every message."""
    fast, fast_feeder, now = make_policy()
    full, full_feeder, _ = make_policy()
    full.reuse_unchanged = False

    for op in ops:
        for policy, feeder in ((fast, fast_feeder), (full, full_feeder)):
            _apply(op, policy, feeder, now)
        for _ in range(3):
            now += 0.02
            fast_feeder.feed(now, after=lambda topic, t=now: fast.evaluate(t, topic))
            full_feeder.feed(now, after=lambda topic, t=now: full.evaluate(t, topic))
            assert _decision(fast.state) == _decision(full.state), f"after {op}"
            assert len(fast.transitions) == len(full.transitions)
        if op == "silence":
            now += 0.5
        fast.evaluate(now)
        full.evaluate(now)
        assert _decision(fast.state) == _decision(full.state), f"after {op} and a full evaluation"


def _apply(op: str, policy, feeder: Feeder, now: float) -> None:
    knee = "left_knee"
    if op == "hot":
        feeder.temperature[knee] = 95.0
    elif op == "cool":
        feeder.temperature[knee] = 40.0
    elif op == "warm":
        feeder.temperature[knee] = 75.0
    elif op == "tilt":
        feeder.orientation = (math.sin(0.5), 0.0, 0.0, math.cos(0.5))
    elif op == "upright":
        feeder.orientation = (0.0, 0.0, 0.0, 1.0)
    elif op == "estop":
        policy.emergency_stop("prop", "hypothesis", now)
    elif op == "press":
        policy.set_estop_button(True)
    elif op == "release":
        policy.set_estop_button(False)
    elif op == "bad_reset":
        assert not policy.reset("mallory", "wrong", now).success
    elif op == "overload":
        feeder.effort[knee] = 250.0
    elif op == "relax":
        feeder.effort[knee] = 0.0
    elif op == "nan":
        feeder.position[knee] = math.nan
        feeder.feed(now)
        feeder.position[knee] = 1.0
