"""A sensor the digital twin (sigma_twin) finds contradicting physics is an input fault of the watchdog (§9)."""

from __future__ import annotations

from helpers import make_policy

from sigma_safety.core.rules.watchdog import SENSOR_CONTRADICTS_PHYSICS


def test_spoofed_winding_sensor_stops_the_robot_until_the_twin_clears_it():
    policy, feeder, now = make_policy()
    assert policy.evaluate(now).level.name == "NOMINAL"
    policy.update_sensor_consistency(["left_knee"], now)
    state = policy.evaluate(now)
    faults = [f for f in state.faults if f.code == SENSOR_CONTRADICTS_PHYSICS]
    assert faults and faults[0].rule == "watchdog" and "left_knee" in faults[0].cause
    assert state.speed_scale == 0.0
    policy.update_sensor_consistency([], now + 0.02)
    now = feeder.run(now + 0.02, 0.2)
    assert not [f for f in policy.evaluate(now).faults if f.code == SENSOR_CONTRADICTS_PHYSICS]


def test_confirmed_cross_sensor_inconsistencies_are_input_faults_vibration_only_warns():
    policy, feeder, now = make_policy()
    policy.update_sensor_consistency(["imu", "battery_voltage"], now)
    state = policy.evaluate(now)
    by_source = {f.source: f for f in state.faults if f.code == SENSOR_CONTRADICTS_PHYSICS}
    assert set(by_source) == {"imu", "battery_state"} and state.speed_scale == 0.0
    assert "odometry" in by_source["imu"].cause and "current draw" in by_source["battery_state"].cause
    policy.update_sensor_consistency(["vibration"], now + 0.02)  # the others cleared by the twin
    now = feeder.run(now + 0.02, 0.2)
    state = policy.evaluate(now)
    (vib,) = [f for f in state.faults if f.code == SENSOR_CONTRADICTS_PHYSICS]
    assert vib.source == "imu_vibration" and vib.severity.name == "WARNING"
    assert state.level.name == "DEGRADED" and state.speed_scale == 1.0  # a warning reports, it does not stop
    policy.update_sensor_consistency(["left_knee", "vibration"], now)  # a joint still reads as before
    faults = [f for f in policy.evaluate(now).faults if f.code == SENSOR_CONTRADICTS_PHYSICS]
    assert {f.source for f in faults} == {"actuator_health", "imu_vibration"}
    assert "left_knee" in next(f.cause for f in faults if f.source == "actuator_health")
