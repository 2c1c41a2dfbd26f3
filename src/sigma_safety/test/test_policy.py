"""The combined policy: levels, latching, e-stop, authorized reset, bad input as faults."""

from __future__ import annotations

import math

from helpers import SECRET, make_policy

from sigma_safety.core.model import Authority, Level
from sigma_safety.core.policy import ESTOP_BUTTON, ESTOP_REQUESTED, RESTORE_FAILED
from sigma_safety.core.rules.motion import TILT
from sigma_safety.core.rules.thermal import DERATING, SHUTDOWN
from sigma_safety.core.rules.watchdog import MALFORMED, NON_FINITE, STALE, UNKNOWN_JOINT


def codes(policy) -> set[int]:
    return {f.code for f in policy.state.faults}


def test_healthy_inputs_give_nominal_primary_authority():
    policy, _, _ = make_policy()
    s = policy.state
    assert (s.level, s.authority, s.speed_scale, s.brake_engaged, s.faults) == (
        Level.NOMINAL, Authority.PRIMARY_AI, 1.0, False, ())


def test_start_without_inputs_is_a_stop_with_brakes():
    policy, _, _ = make_policy()
    fresh = type(policy)(policy.config, policy.limits, now=0.0)
    s = fresh.evaluate(0.0)
    assert s.level == Level.PROTECTIVE_STOP and s.brake_engaged and s.authority == Authority.MECHANICAL_FALLBACK


def test_emergency_stop_latches_until_authorized_reset():
    policy, feeder, now = make_policy()
    ok, msg = policy.emergency_stop("test", "operator-7", now)
    assert ok and "operator-7" in msg
    s = policy.state
    assert s.level == Level.EMERGENCY_STOP and s.brake_engaged and s.speed_scale == 0.0
    assert s.authority == Authority.MECHANICAL_FALLBACK and ESTOP_REQUESTED in codes(policy)
    now = feeder.run(now, 2.0)
    assert policy.state.level == Level.EMERGENCY_STOP
    bad = policy.reset("mallory", "guess", now)
    assert not bad.success and "token is invalid" in bad.message
    assert policy.state.level == Level.EMERGENCY_STOP
    good = policy.reset("operator-7", SECRET, now)
    assert good.success, good.message
    assert policy.state.level == Level.NOMINAL and not policy.state.brake_engaged
    events = policy.take_transitions()
    assert any("reset by operator-7" in t.cause for t in events)


def test_reset_refused_without_configured_token_and_while_condition_active():
    policy, feeder, now = make_policy(secret=None)
    policy.emergency_stop("x", "op", now)
    r = policy.reset("op", "", now)
    assert not r.success and "no reset token is configured" in r.message
    policy, feeder, now = make_policy()
    policy.set_estop_button(True)
    now = feeder.run(now, 0.1)
    r = policy.reset("op", SECRET, now)
    assert not r.success and ESTOP_BUTTON in r.blocking_codes and "button pressed" in r.message
    policy.set_estop_button(False)
    now = feeder.run(now, 0.1)
    assert policy.state.level == Level.EMERGENCY_STOP  # released button: still latched
    assert policy.reset("op", SECRET, now).success


def test_wrong_token_and_active_fault_are_both_reported():
    policy, feeder, now = make_policy()
    feeder.temperature["left_knee"] = 95.0
    now = feeder.run(now, 0.1)
    r = policy.reset("op", "nope", now)
    assert "token is invalid" in r.message and "[202]" in r.message and r.blocking_codes == (SHUTDOWN,)


def test_thermal_derate_then_latched_shutdown_then_reset_after_cooling():
    policy, feeder, now = make_policy()
    feeder.temperature["left_knee"] = 80.0
    now = feeder.run(now, 0.1)
    assert policy.state.level == Level.DEGRADED and abs(policy.state.speed_scale - 0.5) < 1e-9
    assert DERATING in codes(policy)
    feeder.temperature["left_knee"] = 91.0
    now = feeder.run(now, 0.1)
    assert policy.state.level == Level.EMERGENCY_STOP and policy.state.brake_engaged
    feeder.temperature["left_knee"] = 50.0
    now = feeder.run(now, 0.5)
    assert policy.state.level == Level.EMERGENCY_STOP and SHUTDOWN in codes(policy)
    assert policy.reset("op", SECRET, now).success
    assert policy.state.level == Level.NOMINAL


def test_fall_is_an_emergency_stop():
    policy, feeder, now = make_policy()
    feeder.orientation = (math.sin(0.5), 0.0, 0.0, math.cos(0.5))  # 1 rad tilt
    now = feeder.run(now, 0.05)
    assert policy.state.level == Level.EMERGENCY_STOP and TILT in codes(policy)


def test_bad_inputs_become_faults_not_exceptions():
    policy, feeder, now = make_policy()
    names = list(policy.limits)
    policy.update_joints(names, [math.nan] * 4, [0.0] * 4, [0.0] * 4, now)
    assert NON_FINITE in codes_after(policy, now)
    policy.update_joints(names, [0.0] * 3, [0.0] * 4, [0.0] * 4, now)
    assert MALFORMED in codes_after(policy, now)
    policy.update_joints([*names[:3], "tail_wag"], [0.0] * 4, [0.0] * 4, [0.0] * 4, now)
    assert UNKNOWN_JOINT in codes_after(policy, now)
    policy.update_imu((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 9.8), now)
    policy.update_humans([(1.0, math.inf, 0.0, 0.0, 1.0)], now)
    policy.update_policy_health(9, 0.9, now)
    policy.update_odom(0.0, 0.0, (0.0, 0.0, 0.0, 1.0), math.nan, 0.0, 0.0, now)
    state = policy.evaluate(now)
    sources = {f.source for f in state.faults}
    assert {"joint_states", "imu", "humans", "policy_health", "odom"} <= sources
    assert state.level == Level.PROTECTIVE_STOP
    now = feeder.run(now, 0.1)  # valid messages clear input faults
    policy.update_policy_health(0, 0.9, now)
    assert policy.evaluate(now).level == Level.NOMINAL


def codes_after(policy, now):
    return {f.code for f in policy.evaluate(now).faults}


def test_silent_topic_is_stale_and_recovers():
    policy, feeder, now = make_policy()
    for _ in range(20):
        now += 0.02
        policy.update_joints(list(policy.limits), [0.5] * 4, [0.0] * 4, [0.0] * 4, now)  # imu etc. silent
        policy.evaluate(now)
    assert policy.state.level == Level.PROTECTIVE_STOP and STALE in codes(policy)
    now = feeder.run(now, 0.1)
    assert policy.state.level == Level.NOMINAL


def test_transitions_carry_sequence_raised_and_cleared():
    policy, feeder, now = make_policy()
    policy.take_transitions()
    seq = policy.state.sequence
    feeder.temperature["neck_yaw"] = 75.0
    now = feeder.run(now, 0.1)
    (t,) = policy.take_transitions()
    assert t.current.sequence == seq + 1 and [f.code for f in t.raised] == [DERATING] and "[201]" in t.cause
    feeder.temperature["neck_yaw"] = 40.0
    now = feeder.run(now, 0.1)
    (t,) = policy.take_transitions()
    assert [f.code for f in t.cleared] == [DERATING] and t.current.level == Level.NOMINAL


def test_latched_faults_survive_a_restart_and_bad_records_latch_an_emergency_stop():
    policy, _, now = make_policy()
    policy.emergency_stop("before restart", "op", now)
    records = policy.latched_records()
    restarted, feeder, now = make_policy()
    assert restarted.restore_latched(records, now) == 1
    now = feeder.run(now, 0.1)
    (f,) = [f for f in restarted.state.faults if f.code == ESTOP_REQUESTED]
    assert f.latched and "restored after restart" in f.cause and restarted.state.level == Level.EMERGENCY_STOP
    assert restarted.reset("op", SECRET, now).success
    broken, feeder, now = make_policy()
    broken.restore_latched([{"code": "x"}], now)
    now = feeder.run(now, 0.1)
    assert broken.state.level == Level.EMERGENCY_STOP and RESTORE_FAILED in codes(broken)


def test_an_input_reruns_only_the_rules_that_read_it_and_a_full_evaluation_catches_up():
    policy, feeder, now = make_policy(with_site=False)
    policy.update_humans([(0.3, 0.0, 0.0, 0.0, 1.0)], now)  # a person right in front: the hazard path
    assert policy.evaluate(now, "humans").level == Level.PROTECTIVE_STOP
    feeder.temperature["neck_yaw"] = 95.0
    policy.update_actuators(list(feeder.lim), [feeder.temperature[n] for n in feeder.lim],
                            [1.0] * len(feeder.lim), now)
    policy.evaluate(now, "battery_state")  # thermal does not read battery_state: not yet seen
    assert SHUTDOWN not in codes(policy)
    policy.evaluate(now, "actuator_health")  # but an actuator_health message re-runs it
    assert SHUTDOWN in codes(policy) and policy.state.level == Level.EMERGENCY_STOP
    feeder.humans = []  # the person leaves: cleared by the next full evaluations (after the resume delay)
    feeder.run(now, 1.5)
    assert 302 not in codes(policy) and SHUTDOWN in codes(policy)
