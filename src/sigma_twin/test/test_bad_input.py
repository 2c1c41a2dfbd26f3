"""Bad input never crashes the twin: it lowers that channel's confidence and says why."""

from __future__ import annotations

import math

import numpy as np

from sigma_twin.core.robot import RobotTwin

JOINTS = ["left_knee", "right_knee", "left_elbow"]


def _good(twin: RobotTwin, t: float) -> None:
    twin.on_joint_states(t, JOINTS, [0.1, 0.2, 0.3], [0.5, -0.5, 0.0], [5.0, -5.0, 1.0])
    twin.on_actuator_health(t, JOINTS, [40.0, 41.0, 30.0], [35.0, 36.0, 28.0], [3.0, 3.0, 0.5])
    twin.on_battery(t, 52.0, 4.0)


def test_bad_inputs_are_rejected_with_reasons_and_the_rest_still_works():
    twin = RobotTwin(JOINTS)
    for k in range(50):
        _good(twin, float(k))
    twin.on_actuator_health(50.0, JOINTS, [math.nan, 41.0, 30.0], [35.0, 36.0, 28.0], [3.0, 3.0, 0.5])
    twin.on_joint_states(50.0, JOINTS, [0.1, 0.2], [0.5, -0.5, 0.0], [5.0, -5.0, 1.0])  # wrong size
    twin.on_joint_states(51.0, ["left_knee", "tail"], [0.1, 0.2], [0.5, 0.1], [5.0, 1.0])  # unknown joint
    twin.on_actuator_health(10.0, JOINTS, [40.0, 41.0, 30.0], [35.0, 36.0, 28.0], [3.0, 3.0, 0.5])  # old stamp
    twin.on_battery(52.0, math.inf, 4.0)
    twin.on_battery(math.nan, 52.0, 4.0)
    rep = twin.report(60.0)
    reasons = " | ".join(rep.reasons)
    assert "actuator_health.t_winding[left_knee] = nan is not finite" in reasons
    assert "joint_states.position: 2 values for 3 names" in reasons
    assert "unknown name 'tail'" in reasons
    assert "older than the last one" in reasons
    assert "battery_state: voltage inf V" in reasons
    assert "non-finite time stamp" in reasons
    knee = rep.actuators[0]
    assert knee.confidence < 1.0 and any("not finite" in r for r in knee.reasons)
    assert rep.battery.confidence < 1.0
    # the good channels still arrive: the elbow's latest reading is the last good one
    assert twin.actuators.thermal.last_winding[2] == 30.0
    assert np.isfinite(twin.battery.ekf.soc[0])


def test_report_of_a_new_robot_is_honest_about_knowing_nothing_yet():
    twin = RobotTwin(JOINTS)
    _good(twin, 0.0)
    rep = twin.report(1.0)
    assert all(math.isnan(a.rul_q50) for a in rep.actuators)  # no forecast without history
    assert math.isnan(rep.window_start) and rep.spoofed == []


def test_duplicate_or_empty_joint_lists_are_refused():
    import pytest

    with pytest.raises(ValueError, match="unique and non-empty"):
        RobotTwin(["a", "a"])
    with pytest.raises(ValueError, match="unique and non-empty"):
        RobotTwin([])
