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
