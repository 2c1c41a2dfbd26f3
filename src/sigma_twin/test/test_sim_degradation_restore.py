"""The MuJoCo simulator restores a unit's own state when its degradation faults expire (a repair), so a fault
injected for a test or a demo does not leave the robot worn for the rest of the run. Real MuJoCo, no ROS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_description import humanoid_urdf
from sigma_ros_common.share import package_share
from sigma_sim.robot_model import load_actuators, load_urdf
from sigma_sim.simulation import SimConfig, Simulation
from sigma_sim.world import load_world


@pytest.fixture(scope="module")
def sim() -> Simulation:
    share = package_share("sigma_sim")
    robot = load_urdf(humanoid_urdf())
    return Simulation(load_world(share / "worlds" / "warehouse.yaml"), robot,
                      load_actuators(share / "config" / "actuators.yaml", robot.joint_names), ["r1"], SimConfig())


def test_degradation_grows_while_active_and_the_unit_is_restored_after_it_expires(sim: Simulation) -> None:
    r = sim.robot("r1")
    joint = "left_knee"
    i = sim.joint_names.index(joint)
    dof = r.index.dof[i]
    friction0, r0_scale0, capacity0 = float(sim.model.dof_frictionloss[dof]), r.r0_scale.copy(), r.battery.capacity_ah
    for kind, target, magnitude in (("friction_growth", joint, 100.0), ("winding_drift", joint, 100.0),
                                    ("temp_bias_drift", joint, 100.0), ("capacity_fade", "", 1.0),
                                    ("spoofed_temperature", joint, 0.0), ("cooling_loss", joint, 100.0)):
        sim.inject_fault("r1", kind, target, magnitude, 1.0 if kind != "friction_growth" else 2.0)
    sim.step(round(0.8 / sim.dt))  # 0.8 s: every fault active and grown (the fastest rates: levels ~0.02)
    assert sim.model.dof_frictionloss[dof] > friction0 * 1.01
    assert r.r0_scale[i] > r0_scale0[i] * 1.01 and r.sensor_bias[i] > 0.01
    assert r.battery.capacity_ah < capacity0 and not math.isnan(r.frozen_winding[i])
    assert r.thermal.cooling_factor[i] > 1.01
    sim.step(round(0.5 / sim.dt))  # 1.3 s: all but friction growth expired, friction still worn and growing
    assert sim.model.dof_frictionloss[dof] > friction0 * 1.01
    assert r.r0_scale[i] == pytest.approx(r0_scale0[i]) and r.sensor_bias[i] == 0.0
    assert r.battery.capacity_ah == pytest.approx(capacity0) and math.isnan(r.frozen_winding[i])
    assert r.thermal.cooling_factor[i] == pytest.approx(1.0)
    sim.step(round(1.0 / sim.dt))  # 2.3 s: the last one expired too: the unit is as before
    assert not sim.faults.faults
    assert sim.model.dof_frictionloss[dof] == pytest.approx(friction0)
    assert not r.degraded
    np.testing.assert_allclose(r.r0_scale, r0_scale0)
