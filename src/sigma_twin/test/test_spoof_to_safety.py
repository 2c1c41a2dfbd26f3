"""Across processes: a winding temperature sensor that freezes while its motor heats and cools is flagged by
twin_node and becomes a watchdog input fault (code 805) in the real safety supervisor; so does an IMU that
contradicts the odometry once the twin has confirmed it (hysteresis), while the same stream agreeing does not.

The test publishes actuator_health as a driver would, from a two-node thermal model with a square-wave load; message
stamps advance 1 s per message (the twin runs on message time), so 10 minutes of motor time pass in seconds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from ament_index_python.packages import get_package_share_directory
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu

from sigma_interfaces.msg import ActuatorHealth, SafetyStatus, TwinHealth
from sigma_ros_common import qos

SENSOR_CONTRADICTS_PHYSICS = 805
JOINTS = ["left_knee", "right_knee"]


def thermal_feed(seconds: int = 600, freeze_at: float = 200.0, seed: int = 0):
    """(t, winding, housing, current) per second for two motors; the right knee's winding reading freezes."""
    rng = np.random.default_rng(seed)
    a1, a2, b1, b2 = 0.12 / 40, 1 / (0.8 * 40), 1 / (0.8 * 900), 1 / (1.2 * 900)
    tw, th, frozen = np.full(2, 25.0), np.full(2, 25.0), None
    for k in range(seconds):
        i = np.full(2, 15.0 if (k // 30) % 2 == 0 else 2.0)
        dtw = a1 * i * i * (1 + 0.00393 * (tw - 25)) - a2 * (tw - th)
        dth = b1 * (tw - th) - b2 * (th - 25.0)
        tw, th = tw + dtw, th + dth
        meas = tw + rng.normal(0, 0.05, 2)
        if k >= freeze_at:
            frozen = meas[1] if frozen is None else frozen
            meas[1] = frozen
        yield float(k), meas, th.copy(), i


def test_frozen_winding_sensor_becomes_a_safety_fault(launch, ros_probe):
    from sigma_description import humanoid_urdf

    safety_cfg = Path(get_package_share_directory("sigma_safety")) / "config" / "safety.yaml"
    twin = launch("sigma_twin", "twin_node", namespace="/r9", params={
        "joints": JOINTS, "publish_rate": 5.0, "forecast_period": 0.2, "estimator.window": 4.0,
        "estimator.housing_windows": 2, "spoof.learn_time": 120.0, "spoof.memory_windows": 10.0,
        "spoof.min_excitation": 0.01})
    safety = launch("sigma_safety", "supervisor_node", namespace="/r9", params_files=[safety_cfg],
                    params={"urdf_path": str(humanoid_urdf())}, env={"SIGMA_SAFETY_RESET_TOKEN": os.urandom(8).hex()})
    status = ros_probe.subscribe(SafetyStatus, "/r9/safety/status", qos.LATCHED)
    health = ros_probe.subscribe(TwinHealth, "/r9/twin/health", qos.LATCHED)
    pub = ros_probe.publisher(ActuatorHealth, "/r9/actuator_health", qos.RELIABLE_10)
    ros_probe.wait_for_subscribers(pub, count=2, timeout=30.0)  # the twin and the supervisor
    status.wait_for(timeout=30.0)
    for t, tw, th, cur in thermal_feed():
        msg = ActuatorHealth(name=JOINTS, winding_temperature=[float(v) for v in tw],
                             housing_temperature=[float(v) for v in th], current=[float(v) for v in cur],
                             supply_voltage=[50.0, 50.0])
        msg.header.stamp.sec = 1000 + int(t)
        pub.publish(msg)
        time.sleep(0.01)  # a driver's pace (100 Hz), not a burst that overruns the readers' queues
    flagged = health.wait_for(lambda ms: any(list(m.spoofed_sensors) == ["right_knee"] for m in ms), timeout=30.0)
    assert "left_knee" not in flagged[-1].spoofed_sensors

    def has_fault(ms):
        return any(f.code == SENSOR_CONTRADICTS_PHYSICS and "right_knee" in f.cause
                   for m in ms for f in m.active_faults)

    states = status.wait_for(has_fault, timeout=30.0)
    fault = next(f for m in states for f in m.active_faults if f.code == SENSOR_CONTRADICTS_PHYSICS)
    assert fault.rule == "watchdog" and fault.source == "actuator_health"
    assert twin.alive and safety.alive


def test_imu_contradicting_odometry_becomes_a_safety_fault_once_confirmed(launch, ros_probe):
    from sigma_description import humanoid_urdf

    safety_cfg = Path(get_package_share_directory("sigma_safety")) / "config" / "safety.yaml"
    twin = launch("sigma_twin", "twin_node", namespace="/r8", params={"joints": JOINTS, "publish_rate": 5.0,
                                                                       "forecast_period": 0.2})
    safety = launch("sigma_safety", "supervisor_node", namespace="/r8", params_files=[safety_cfg],
                    params={"urdf_path": str(humanoid_urdf())}, env={"SIGMA_SAFETY_RESET_TOKEN": os.urandom(8).hex()})
    status = ros_probe.subscribe(SafetyStatus, "/r8/safety/status", qos.LATCHED)
    health = ros_probe.subscribe(TwinHealth, "/r8/twin/health", qos.LATCHED)
    pub_i = ros_probe.publisher(Imu, "/r8/imu", qos.SENSOR)
    pub_o = ros_probe.publisher(Odometry, "/r8/odom", qos.SENSOR)
    for p in (pub_i, pub_o):
        ros_probe.wait_for_subscribers(p, count=2, timeout=30.0)  # the twin and the supervisor
    status.wait_for(timeout=30.0)

    def drive(seconds: int, start: int, spoof: bool) -> None:
        """A robot turning at 0.3 rad/s, 20 samples per second of stamps; spoofed: the IMU spins and falls."""
        for k in range(seconds * 20):
            stamp = Time(sec=start + k // 20, nanosec=(k % 20) * 50_000_000)
            imu, odom = Imu(), Odometry()
            imu.header.stamp = odom.header.stamp = stamp
            imu.orientation.w = 1.0
            imu.angular_velocity.z = 1.5 if spoof else 0.3
            imu.linear_acceleration.z = 0.0 if spoof else 9.81
            odom.pose.pose.orientation.w = 1.0
            odom.twist.twist.angular.z = 0.3
            pub_i.publish(imu)
            pub_o.publish(odom)
            if k % 10 == 9:
                time.sleep(0.02)  # pacing only (best-effort sensor QoS drops bursts)

    drive(30, 100, spoof=False)
    agreeing = health.wait_for(lambda ms: any(m.header.stamp.sec >= 125 for m in ms), timeout=30.0)
    assert not any("imu" in m.spoofed_sensors for m in agreeing)
    drive(40, 130, spoof=True)
    flagged = health.wait_for(lambda ms: any("imu" in m.spoofed_sensors for m in ms), timeout=30.0)
    assert "imu" in flagged[-1].spoofed_sensors or any("imu" in m.spoofed_sensors for m in flagged)

    def has_fault(ms):
        return any(f.code == SENSOR_CONTRADICTS_PHYSICS and f.source == "imu" for m in ms for f in m.active_faults)

    states = status.wait_for(has_fault, timeout=30.0)
    fault = next(f for m in states for f in m.active_faults if f.code == SENSOR_CONTRADICTS_PHYSICS)
    assert fault.rule == "watchdog" and "odometry" in fault.cause
    assert twin.alive and safety.alive
