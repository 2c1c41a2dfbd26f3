"""Standard messages as consumers read them: bounded IMU bias, odometry noise with matching covariances, battery
temperature NaN when unmeasured, frames set, and refused driver commands logged once instead of per message."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, JointState
from std_msgs.msg import Bool

from sigma_ros_common.qos import LATCHED, RELIABLE_10, SENSOR
from sigma_sim.noise import GaussMarkovNoise, OdometryNoise, OdometryNoiseConfig
from sigma_sim.refusals import RefusalLog


def test_gauss_markov_bias_stays_bounded_where_a_random_walk_grows():
    rng = np.random.default_rng(3)
    gm = GaussMarkovNoise(white_std=0.0, bias_std=0.005, tau=300.0, size=2000)  # 2000 independent axes
    for _ in range(3000):  # 3000 s = 10 correlation times, dt = 1 s
        gm.sample(rng, 1.0)
    assert gm.bias.std() == pytest.approx(0.005, rel=0.1)  # the steady-state spread, not sqrt(t) growth
    # a random walk with the same short-term increments would have spread 0.005*sqrt(2/300)*sqrt(3000) ~ 0.022
    assert np.abs(gm.bias).max() < 6 * 0.005
    with pytest.raises(ValueError, match="tau > 0"):
        GaussMarkovNoise(0.0, 0.1, tau=0.0)


def test_odometry_noise_matches_its_covariances():
    cfg = OdometryNoiseConfig()
    noise = OdometryNoise(cfg)
    rng = np.random.default_rng(5)
    q0 = np.array([math.cos(0.3), 0.0, 0.0, math.sin(0.3)])
    out = [noise.apply(rng, np.zeros(3), q0, np.zeros(3), np.zeros(3)) for _ in range(4000)]
    pos, quat, lin, ang = (np.array([o[k] for o in out]) for k in range(4))
    assert np.allclose(np.linalg.norm(quat, axis=1), 1.0)
    pose_var = np.diag(cfg.pose_covariance().reshape(6, 6))
    twist_var = np.diag(cfg.twist_covariance().reshape(6, 6))
    assert pos.var(axis=0) == pytest.approx(pose_var[:3], rel=0.1)
    assert lin.var(axis=0) == pytest.approx(twist_var[:3], rel=0.1)
    assert ang.var(axis=0) == pytest.approx(twist_var[3:], rel=0.1)
    w, x, y, z = quat.T
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y**2 + z**2))
    assert (yaw - 0.6).std() == pytest.approx(cfg.orientation_std, rel=0.1)


def test_refusals_are_reported_once_per_brake_engagement_and_rate_limited_otherwise():
    log = RefusalLog(period_s=10.0)
    assert log.report("r1", "driver/joint_command", True, 0.0) == (True, 0)
    assert [log.report("r1", "driver/joint_command", True, t)[0] for t in range(1, 100)] == [False] * 99
    assert log.report("r2", "driver/joint_command", True, 50.0)[0]  # another robot is reported on its own
    assert log.brake_released("r1") == 100
    assert log.report("r1", "driver/joint_command", True, 200.0) == (True, 0)  # the next engagement reports again
    limits = "left_elbow: target {} outside limits [-2.5000, 0.0000]"
    assert log.report("r1", "driver/joint_command", False, 0.0, limits.format(1.5)) == (True, 0)
    assert log.report("r1", "driver/joint_command", False, 5.0, limits.format(0.7)) == (False, 1)  # same reason
    assert log.report("r1", "driver/joint_command", False, 6.0, "left_elbow: target nan is not finite")[0]
    assert log.report("r1", "driver/joint_command", False, 10.0, limits.format(2.0)) == (True, 1)


def test_sim_node_messages_and_a_quiet_log_while_braked(launch, ros_probe):
    battery = ros_probe.subscribe(BatteryState, "/r1/battery_state", RELIABLE_10)
    odom = ros_probe.subscribe(Odometry, "/r1/odom", SENSOR)
    sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
    b = battery.wait_for_count(1, timeout=30.0)[0]
    assert b.header.frame_id == "r1/base_link" and math.isnan(b.temperature) and 0.0 < b.percentage <= 1.0
    o = odom.wait_for_count(1, timeout=30.0)[0]
    cfg = OdometryNoiseConfig()
    assert list(o.pose.covariance) == pytest.approx(list(cfg.pose_covariance()))
    assert list(o.twist.covariance) == pytest.approx(list(cfg.twist_covariance()))
    assert np.diag(np.reshape(o.pose.covariance, (6, 6))).min() > 0.0

    brake = ros_probe.publisher(Bool, "/r1/driver/brake", LATCHED)
    brake.publish(Bool(data=True))
    sim.wait_for_output("/r1: brake engaged", timeout=10.0)
    cmd = ros_probe.publisher(JointState, "/r1/driver/joint_command", RELIABLE_10)
    ros_probe.wait_for_subscribers(cmd)
    for _ in range(30):  # what the gate sends at its rate while the robot is stopped
        cmd.publish(JointState(name=["left_elbow"], position=[0.0]))
    sim.wait_for_output("ignored while the brake is engaged", timeout=10.0)
    brake.publish(Bool(data=False))
    sim.wait_for_output("/r1: brake released", timeout=10.0)
    out = sim.output()
    assert out.count("ignored while the brake is engaged") == 1
    assert "WARN" not in out and "rejected" not in out
    assert sim.stop() == 0
