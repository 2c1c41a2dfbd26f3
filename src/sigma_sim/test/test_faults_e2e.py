"""Every fault kind, injected through /<robot>/sim/inject_fault into a running sim_node, shows its signature in
the published topics (the sim runs unpaced so simulated seconds pass quickly; waits are on data, never sleeps)."""

from __future__ import annotations

import itertools
import statistics

import pytest
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, Imu, JointState

from sigma_interfaces.msg import ActuatorHealth, DetectedHumans
from sigma_ros_common.qos import RELIABLE_10, SENSOR
from sigma_sim_interfaces.srv import InjectFault

FAST = {"robots": ["r1"], "realtime": False, "rates.joint_states": 50.0, "rates.imu": 50.0,
        "rates.battery_state": 10.0}


def _start(launch, **params):
    sim = launch("sigma_sim", "sim_node", params={**FAST, **params})
    sim.wait_for_output("sigma_sim ready", timeout=30.0)
    return sim


def _inject(probe, kind, target="", magnitude=0.0, duration=0.0, robot="r1"):
    req = InjectFault.Request(kind=kind, target=target, magnitude=float(magnitude), duration=float(duration))
    return probe.call(InjectFault, f"/{robot}/sim/inject_fault", req, timeout=15.0)


def _t(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _index(msgs, joint):
    return list(msgs[-1].name).index(joint)


def test_unpaced_sim_publishes_clock_and_refuses_unknown_fault(launch, ros_probe):
    clock = ros_probe.subscribe(Clock, "/clock", RELIABLE_10)
    sim = _start(launch)
    msgs = clock.wait_for_count(20, timeout=20.0)
    t = [m.clock.sec + m.clock.nanosec * 1e-9 for m in msgs]
    assert all(b > a for a, b in itertools.pairwise(t))
    res = _inject(ros_probe, "meteor_strike")
    assert not res.accepted and "unknown fault kind 'meteor_strike'" in res.message
    sim.wait_for_output("refused: unknown fault kind")
    res = _inject(ros_probe, "overheat", "tail", 10.0)
    assert not res.accepted and "unknown joint 'tail'" in res.message
    assert sim.alive
    assert sim.stop() == 0  # the unpaced loop also shuts down cleanly on Ctrl-C


def test_overheat_raises_winding_temperature(launch, ros_probe):
    health = ros_probe.subscribe(ActuatorHealth, "/r1/actuator_health", RELIABLE_10)
    _start(launch)
    base = health.wait_for_count(3, timeout=20.0)[-1]
    k = list(base.name).index("left_knee")
    res = _inject(ros_probe, "overheat", "left_knee", 100.0)
    assert res.accepted, res.message
    got = health.wait_for(lambda m: m[-1].winding_temperature[k] > base.winding_temperature[k] + 10.0, timeout=30.0)
    last = got[-1]
    assert last.winding_temperature[k] > last.housing_temperature[k]  # heat is in the winding
    others = [t for i, t in enumerate(last.winding_temperature) if i != k]
    assert max(others) < last.winding_temperature[k] - 10.0


def test_stuck_joint_freezes_position_and_strains_the_drive(launch, ros_probe):
    states = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    _start(launch)
    states.wait_for_count(3, timeout=20.0)
    assert _inject(ros_probe, "stuck_joint", "left_elbow").accepted
    cmd = ros_probe.publisher(JointState, "/r1/driver/joint_command", RELIABLE_10)
    ros_probe.wait_for_subscribers(cmd)
    left, right = _index(states.messages, "left_elbow"), _index(states.messages, "right_elbow")

    def moved(msgs):
        cmd.publish(JointState(name=["left_elbow", "right_elbow"], position=[-1.2, -1.2]))
        return msgs[-1].position[right] < -1.15

    last = states.wait_for(moved, timeout=20.0)[-1]
    assert abs(last.position[left]) < 0.03
    assert abs(last.effort[left]) > 30.0


def test_encoder_bias_shifts_reported_position(launch, ros_probe):
    states = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    _start(launch)
    k = _index(states.wait_for_count(3, timeout=20.0), "left_knee")
    before = states.latest().position[k]
    assert _inject(ros_probe, "encoder_bias", "left_knee", 0.2).accepted
    states.clear()
    after = states.wait_for_count(5, timeout=10.0)[-1].position[k]
    assert after - before == pytest.approx(0.2, abs=0.01)


def test_encoder_noise_spreads_reported_position(launch, ros_probe):
    states = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    _start(launch)
    k = _index(states.wait_for_count(3, timeout=20.0), "left_knee")
    assert _inject(ros_probe, "encoder_noise", "left_knee", 0.05).accepted
    states.clear()
    msgs = states.wait_for_count(60, timeout=20.0)[10:]
    assert statistics.pstdev(m.position[k] for m in msgs) > 0.02
    w = _index(msgs, "waist_yaw")
    assert statistics.pstdev(m.position[w] for m in msgs) < 0.005


def test_spoofed_imu_contradicts_orientation_and_odometry(launch, ros_probe):
    imu = ros_probe.subscribe(Imu, "/r1/imu", SENSOR)
    odom = ros_probe.subscribe(Odometry, "/r1/odom", SENSOR)
    _start(launch)
    honest = imu.wait_for_count(3, timeout=20.0)[-1]
    assert 9.0 < honest.linear_acceleration.z < 10.6  # standing still: gravity
    assert _inject(ros_probe, "spoofed_sensor", "imu", 3.0).accepted
    imu.clear()
    msgs = imu.wait_for(lambda m: len(m) >= 10 and m[-1].angular_velocity.z == 3.0, timeout=10.0)
    q0, q1 = msgs[0].orientation, msgs[-1].orientation
    assert abs(q0.z - q1.z) < 1e-3  # "spinning at 3 rad/s" while the orientation does not change
    assert msgs[-1].linear_acceleration.z == 0.0  # "free fall" ...
    twist = odom.wait_for_count(1, timeout=10.0)[-1].twist  # ... while not falling: vertical speed within the
    sigma_z = twist.covariance[14] ** 0.5  # odometry's own noise (its covariance), not the metres per second of a fall
    assert abs(twist.twist.linear.z) < 5 * sigma_z + 1e-3


def test_spoofed_joint_states_report_motion_without_displacement(launch, ros_probe):
    states = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    _start(launch)
    states.wait_for_count(3, timeout=20.0)
    assert _inject(ros_probe, "spoofed_sensor", "joint_states", 2.0).accepted
    states.clear()
    msgs = states.wait_for(lambda m: len(m) >= 20 and all(v == 2.0 for v in m[-1].velocity), timeout=10.0)
    spoofed = [m for m in msgs if all(v == 2.0 for v in m.velocity)]
    dt = _t(spoofed[-1]) - _t(spoofed[0])
    assert dt > 0.1
    moved = max(abs(a - b) for a, b in zip(spoofed[-1].position, spoofed[0].position, strict=True))
    assert moved < 0.01 < 2.0 * dt  # 2 rad/s claimed, nothing moved


def test_battery_sag_drops_voltage(launch, ros_probe):
    battery = ros_probe.subscribe(BatteryState, "/r1/battery_state", RELIABLE_10)
    _start(launch)
    before = battery.wait_for_count(3, timeout=20.0)[-1]
    assert before.current < 0 and 0.9 < before.percentage <= 1.0
    assert _inject(ros_probe, "battery_sag", "", 5.0, 0.0).accepted
    got = battery.wait_for(lambda m: m[-1].voltage < before.voltage - 3.0, timeout=10.0)
    assert got[-1].power_supply_health != BatteryState.POWER_SUPPLY_HEALTH_GOOD


def test_silent_topic_stops_then_resumes(launch, ros_probe):
    imu = ros_probe.subscribe(Imu, "/r1/imu", SENSOR)
    states = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    _start(launch)
    imu.wait_for_count(3, timeout=20.0)
    res = _inject(ros_probe, "silent_topic", "imu", 0.0, 3.0)
    assert res.accepted
    start = _t(states.latest())
    imu.clear()
    states.wait_for(lambda m: _t(m[-1]) > start + 2.0, timeout=20.0)
    silent = [m for m in imu.messages if start + 0.2 < _t(m) < start + 2.8]
    assert silent == []  # no imu for the fault's duration while joint_states kept coming
    imu.wait_for(lambda m: any(_t(x) > start + 3.0 for x in m), timeout=20.0)


def test_human_walks_straight_at_the_robot(launch, ros_probe):
    humans = ros_probe.subscribe(DetectedHumans, "/r1/humans", SENSOR)
    _start(launch)
    assert _inject(ros_probe, "human_approach", "", 1.5, 0.0).accepted

    def approach(msgs):
        return [h for m in msgs for h in m.humans if h.id.startswith("approach_")]

    seen = humans.wait_for(lambda m: len(approach(m)) >= 10, timeout=20.0)
    track = approach(seen)
    assert track[-1].position.x < track[0].position.x - 0.5  # closing in, straight ahead
    assert all(abs(h.position.y) < 0.5 for h in track)
    assert track[-1].velocity.x == pytest.approx(-1.5, abs=0.1)


def test_push_makes_free_base_robot_fall(launch, ros_probe):
    odom = ros_probe.subscribe(Odometry, "/r1/odom", SENSOR)
    _start(launch, base_mode="free")
    standing = odom.wait_for_count(3, timeout=20.0)[-1].pose.pose.position.z
    assert standing > 0.9
    assert _inject(ros_probe, "push", "", 150.0).accepted
    odom.wait_for(lambda m: m[-1].pose.pose.position.z < 0.5, timeout=30.0)
