"""Rule 9 (driver integrity), the graph checks and the gate's re-assertion, as pure logic (issue #18, finding 1/3)."""

from __future__ import annotations

from helpers import SECRET, limits, make_policy

from sigma_safety.core.gate import CommandGate, GateParams, Twist
from sigma_safety.core.graph import (
    UNKNOWN_NAMESPACE,
    UNKNOWN_NODE,
    Endpoint,
    ForeignPublisherWatch,
    foreign_publishers,
    trusted_source,
)
from sigma_safety.core.model import Authority, Level, SafetyState
from sigma_safety.core.rules.driver import BRAKE_NOT_APPLIED, FOREIGN_PUBLISHER, MOTION_WHILE_STOPPED


def codes(policy) -> set[int]:
    return {f.code for f in policy.state.faults}


def estop(policy, now: float) -> float:
    policy.emergency_stop("test", "op", now)
    return now


# ----- graph -----

def test_only_the_allowed_node_may_publish_and_a_namesake_is_foreign_too():
    gate = Endpoint("/r1", "command_gate", b"g")
    assert foreign_publishers([gate], "/r1/command_gate") == ()
    assert foreign_publishers([], "/r1/command_gate") == ()
    assert foreign_publishers([gate, Endpoint("/", "test_probe")], "/r1/command_gate") == ("/test_probe",)
    assert foreign_publishers([gate, Endpoint("/r1", "command_gate")], "/r1/command_gate") == (
        "/r1/command_gate (duplicate)",)
    assert foreign_publishers([Endpoint("/r2", "command_gate")], "/r1/command_gate") == ("/r2/command_gate",)


def test_a_status_source_is_trusted_only_while_it_is_the_only_publisher():
    sup = Endpoint("/r1", "safety_supervisor", b"\x01" * 16)
    assert trusted_source([sup], "/r1/safety_supervisor").gid == b"\x01" * 16
    assert trusted_source([], "/r1/safety_supervisor").gid is None
    forged = trusted_source([sup, Endpoint("/", "attacker", b"\x02" * 16)], "/r1/safety_supervisor")
    assert forged.gid is None and "/attacker" in forged.reason
    assert trusted_source([Endpoint("/", "attacker", b"\x02")], "/r1/safety_supervisor").gid is None


# ----- rule 9 in the policy -----

def test_foreign_publisher_of_a_driver_topic_is_a_latched_emergency_stop():
    policy, feeder, now = make_policy()
    policy.update_publishers("driver/cmd_vel", ("/test_probe",))
    s = policy.evaluate(now)
    assert s.level == Level.EMERGENCY_STOP and s.brake_engaged and FOREIGN_PUBLISHER in codes(policy)
    fault = next(f for f in s.faults if f.code == FOREIGN_PUBLISHER)
    assert fault.source == "driver/cmd_vel" and "/test_probe" in fault.cause and fault.latched
    policy.update_publishers("driver/cmd_vel", ())  # gone again: still latched until an authorized reset
    now = feeder.run(now, 0.2)
    assert policy.state.level == Level.EMERGENCY_STOP
    assert policy.reset("op", SECRET, now).success
    assert policy.evaluate(now).level == Level.NOMINAL


def test_brake_released_behind_the_gate_is_an_emergency_stop_at_once():
    policy, feeder, now = make_policy()
    estop(policy, now)
    now = feeder.run(now, 0.04)
    policy.update_brake_state(True, now)  # the driver confirms
    now = feeder.run(now, 0.04)
    assert BRAKE_NOT_APPLIED not in codes(policy)
    policy.update_brake_state(False, now)  # someone released it
    s = policy.evaluate(now)
    assert BRAKE_NOT_APPLIED in codes(policy) and s.level == Level.EMERGENCY_STOP
    assert "released behind the gate" in next(f.cause for f in s.faults if f.code == BRAKE_NOT_APPLIED)


def test_a_driver_slow_to_apply_the_brake_is_not_a_fault_until_it_releases_it():
    policy, feeder, now = make_policy()
    policy.update_brake_state(False, now)  # released, as commanded in NOMINAL
    estop(policy, now)
    now = feeder.run(now, 3.0)  # a slow (or just starting) driver: no deadline
    assert BRAKE_NOT_APPLIED not in codes(policy)
    policy.update_brake_state(True, now)
    now = feeder.run(now, 0.1)
    policy.update_brake_state(False, now)
    policy.evaluate(now, "brake_state")
    assert BRAKE_NOT_APPLIED in codes(policy)


def test_driver_without_brake_reports_is_not_judged():
    policy, feeder, now = make_policy()
    estop(policy, now)
    feeder.run(now, 2.0)
    assert BRAKE_NOT_APPLIED not in codes(policy)


def test_base_speeding_up_while_braked_is_a_fault_and_braking_from_speed_is_not():
    policy, feeder, now = make_policy(with_site=False)
    feeder.odom = (0.0, 0.0, 0.0, 0.8, 0.0)  # driving at 0.8 m/s
    now = feeder.run(now, 0.1)
    estop(policy, now)
    now = feeder.run(now, 0.04)
    policy.update_brake_state(True, now)
    for k in range(40):  # a slow (lagging) stop: 0.8 m/s down to 0.4 m/s over 3 s
        feeder.odom = (0.0, 0.0, 0.0, 0.8 - 0.01 * k, 0.0)
        now = feeder.run(now, 0.08)
    assert MOTION_WHILE_STOPPED not in codes(policy)
    feeder.odom = (0.0, 0.0, 0.0, 0.75, 0.0)  # then it picks up speed again: driven behind the gate
    now = feeder.run(now, 0.04)
    s = policy.state
    assert MOTION_WHILE_STOPPED in codes(policy) and s.level == Level.EMERGENCY_STOP and s.brake_engaged
    fault = next(f for f in s.faults if f.code == MOTION_WHILE_STOPPED)
    assert fault.source == "odom" and fault.value == 0.75


def test_motion_in_a_stop_without_brakes_is_left_to_the_gate():
    policy, feeder, now = make_policy(with_site=False)
    feeder.humans = [(0.3, 0.0, 0.0, 0.0, 1.0)]  # protective stop, no brakes
    now = feeder.run(now, 0.1)
    feeder.odom = (0.0, 0.0, 0.0, 0.7, 0.0)  # a starved simulator still executing a pre-stop command
    feeder.run(now, 0.5)
    assert policy.state.level == Level.PROTECTIVE_STOP and MOTION_WHILE_STOPPED not in codes(policy)


def test_joint_speeding_up_while_braked_is_a_fault_and_standing_still_is_not():
    policy, feeder, now = make_policy()
    estop(policy, now)
    feeder.velocity["left_knee"] = 2.0  # still settling on its last target before the driver applies the brake
    now = feeder.run(now, 0.5)
    assert MOTION_WHILE_STOPPED not in codes(policy)
    policy.update_brake_state(True, now)  # the driver holds the joints now
    feeder.velocity["left_knee"] = 0.0
    now = feeder.run(now, 1.0)
    assert MOTION_WHILE_STOPPED not in codes(policy)  # braked and still: fine
    feeder.velocity["left_knee"] = 2.0
    feeder.run(now, 0.1)
    fault = next(f for f in policy.state.faults if f.code == MOTION_WHILE_STOPPED)
    assert fault.source == "left_knee" and fault.value == 2.0


def test_moving_while_nominal_is_not_judged():
    policy, feeder, now = make_policy(with_site=False)
    feeder.odom = (0.0, 0.0, 0.0, 0.8, 0.0)
    feeder.velocity["left_knee"] = 3.0
    feeder.run(now, 2.0)
    assert not codes(policy) & {MOTION_WHILE_STOPPED, BRAKE_NOT_APPLIED, FOREIGN_PUBLISHER}


# ----- the gate's re-assertion and counters -----

def _gate(level: Level, brake: bool) -> CommandGate:
    g = CommandGate(GateParams(), limits())
    g.set_measured(list(g.limits), [0.0] * len(g.limits))
    g.set_state(SafetyState(level, Authority.PRIMARY_AI, 0.0, 0.0, brake, (), 1, 0.0), 0.0)
    return g


def test_while_braked_the_gate_resends_brake_and_zero_velocity_but_no_joint_targets():
    g = _gate(Level.EMERGENCY_STOP, True)
    joints, twist = g.stop_outputs(0.01)
    assert joints is None and twist == Twist() and g.is_brake(0.01)
    joints, twist = _gate(Level.PROTECTIVE_STOP, False).stop_outputs(0.01)
    assert joints is not None and set(joints.names) == set(limits()) and twist == Twist()


def test_while_stopped_the_gate_overrides_foreign_motion_and_a_released_brake():
    g = _gate(Level.EMERGENCY_STOP, True)
    assert g.counters_twist(0.5, 0.0, 0.0, 0.01) and not g.counters_twist(0.0, 0.0, 0.0, 0.01)
    assert g.counters_twist(float("nan"), 0.0, 0.0, 0.01)
    assert g.counters_brake(False, 0.01) and not g.counters_brake(True, 0.01)
    moving = _gate(Level.NOMINAL, False)
    moving.set_state(SafetyState(Level.NOMINAL, Authority.PRIMARY_AI, 1.0, 1.0, False, (), 2, 0.0), 0.0)
    assert not moving.counters_twist(0.5, 0.0, 0.0, 0.01) and not moving.counters_brake(False, 0.01)


def test_the_drives_torque_limit_follows_the_state_and_a_higher_one_is_overridden():
    g = CommandGate(GateParams(), limits())
    assert g.torque_limit() is None  # no state yet: the drives keep their rating (and the brakes are on)
    for torque, limit in ((1.0, 1.0), (0.5, 0.5), (0.0, 0.0), (1.7, 1.0), (float("nan"), 0.0)):
        g.set_state(SafetyState(Level.DEGRADED, Authority.EDGE_AI, 1.0, torque, False, (), 2, 0.0), 0.0)
        assert g.torque_limit() == limit
    g.set_state(SafetyState(Level.DEGRADED, Authority.EDGE_AI, 1.0, 0.5, False, (), 3, 0.0), 0.0)  # I²t warning
    assert g.counters_torque(1.0) and g.counters_torque(float("nan"))  # someone else lifting the cap
    assert not g.counters_torque(0.5) and not g.counters_torque(0.2)


def test_an_untrusted_state_source_blocks_and_brakes_until_cleared():
    g = _gate(Level.NOMINAL, False)
    g.set_state(SafetyState(Level.NOMINAL, Authority.PRIMARY_AI, 1.0, 1.0, False, (), 2, 0.0), 0.0)
    assert g.cmd_vel(Authority.PRIMARY_AI, 0.3, 0.0, 0.0, 0.01).passed
    g.set_source_fault("safety/status published by /attacker")
    v = g.cmd_vel(Authority.PRIMARY_AI, 0.3, 0.0, 0.0, 0.01)
    assert not v.passed and "/attacker" in v.reason and g.is_brake(0.01)
    g.set_source_fault(None)
    assert g.cmd_vel(Authority.PRIMARY_AI, 0.3, 0.0, 0.0, 0.01).passed


def test_the_gate_tells_its_own_outputs_from_someone_elses():
    g = _gate(Level.NOMINAL, False)
    g.note_sent("driver/cmd_vel", (0.3, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0)
    g.note_sent("driver/brake", True, 0.0)
    assert g.was_sent("driver/cmd_vel", (0.3, 0.0, 0.0, 0.0, 0.0, 0.0), 0.5)
    assert not g.was_sent("driver/cmd_vel", (0.5, 0.0, 0.0, 0.0, 0.0, 0.0), 0.5)
    assert not g.was_sent("driver/brake", False, 0.5)
    g.note_sent("driver/cmd_vel", (0.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.6)
    assert not g.was_sent("driver/cmd_vel", (0.3, 0.0, 0.0, 0.0, 0.0, 0.0), 6.0)  # forgotten after SENT_MEMORY
    assert g.was_sent("driver/brake", True, 60.0)  # the latest output is never forgotten (latched re-delivery)


def test_a_command_the_gate_did_not_send_is_a_latched_emergency_stop_that_can_be_reset():
    policy, feeder, now = make_policy()
    policy.report_foreign_command("driver/cmd_vel", "base velocity (0.5, 0, 0)", now)
    s = policy.evaluate(now)
    assert s.level == Level.EMERGENCY_STOP and FOREIGN_PUBLISHER in codes(policy)
    assert not policy.reset("op", SECRET, now).success  # still active
    now = feeder.run(now, 1.2)
    assert policy.reset("op", SECRET, now).success
    assert policy.evaluate(now).level == Level.NOMINAL


def test_a_publisher_whose_node_is_not_named_yet_is_foreign_only_after_the_grace():
    """DDS announces endpoints before node names: the gate in another process is briefly '_NODE_NAME_UNKNOWN_' on
    the supervisor's graph (an emergency stop on a healthy robot in CI). A named stranger is reported at once; an
    unnamed endpoint once it stayed unnamed for the grace; one that gets its name is judged by it."""
    watch = ForeignPublisherWatch(grace=3.0)
    allowed = "/r1/command_gate"
    pending = Endpoint(UNKNOWN_NAMESPACE, UNKNOWN_NODE, b"g1")
    assert watch.check("driver/cmd_vel", [pending], allowed, now=0.0) == ()
    assert watch.check("driver/cmd_vel", [pending], allowed, now=2.9) == ()
    assert watch.check("driver/cmd_vel", [Endpoint("/r1", "command_gate", b"g1")], allowed, now=3.5) == ()
    # the placeholder cannot hide an impostor for longer than the grace
    assert watch.check("driver/cmd_vel", [pending], allowed, now=10.0) == ()
    assert watch.check("driver/cmd_vel", [pending], allowed, now=13.0) == ("an unidentified node (for 3.0 s)",)
    stranger = Endpoint("/", "test_probe", b"g2")
    assert watch.check("driver/brake", [stranger], allowed, now=0.0) == ("/test_probe",)
