"""Fill ROS messages from the simulation's readings (plain functions; messages are reused to save allocations)."""

from __future__ import annotations

import array
import math

import numpy as np
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, Imu, JointState

from sigma_interfaces.msg import ActuatorHealth, DetectedHuman, DetectedHumans
from sigma_sim.battery import BatteryModel
from sigma_sim.humans import Detection


def _d(values: np.ndarray) -> array.array:
    return array.array("d", values.tobytes())


def stamp_from(seconds: float) -> Time:
    """builtin_interfaces/Time of a simulation time (rounded to the nanosecond, carry included)."""
    sec, nanosec = divmod(round(seconds * 1e9), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def fill_joint_state(msg: JointState, stamp: Time, pos: np.ndarray, vel: np.ndarray, eff: np.ndarray) -> JointState:
    msg.header.stamp = stamp
    msg.position = _d(pos)
    msg.velocity = _d(vel)
    msg.effort = _d(eff)
    return msg


def set_imu_covariance(msg: Imu, gyro_var: float, accel_var: float) -> None:
    """Diagonal covariances of the noise model (constant: set once on the reused message)."""
    msg.angular_velocity_covariance = _d(np.diag([gyro_var] * 3).ravel())
    msg.linear_acceleration_covariance = _d(np.diag([accel_var] * 3).ravel())
    msg.orientation_covariance = _d(np.diag([1e-4] * 3).ravel())


def set_odometry_covariance(msg: Odometry, pose_cov: np.ndarray, twist_cov: np.ndarray) -> None:
    """Row-major 6x6 pose and twist covariances of the odometry noise model (constant: set once)."""
    msg.pose.covariance = _d(np.asarray(pose_cov, dtype=float))
    msg.twist.covariance = _d(np.asarray(twist_cov, dtype=float))


def fill_imu(msg: Imu, stamp: Time, quat_wxyz: np.ndarray, gyro: np.ndarray, accel: np.ndarray) -> Imu:
    msg.header.stamp = stamp
    o = msg.orientation
    o.w, o.x, o.y, o.z = (float(v) for v in quat_wxyz)
    a = msg.angular_velocity
    a.x, a.y, a.z = (float(v) for v in gyro)
    la = msg.linear_acceleration
    la.x, la.y, la.z = (float(v) for v in accel)
    return msg


def fill_odom(msg: Odometry, stamp: Time, pos: np.ndarray, quat_wxyz: np.ndarray, lin: np.ndarray,
              ang: np.ndarray) -> Odometry:
    msg.header.stamp = stamp
    p = msg.pose.pose.position
    p.x, p.y, p.z = (float(v) for v in pos)
    o = msg.pose.pose.orientation
    o.w, o.x, o.y, o.z = (float(v) for v in quat_wxyz)
    t = msg.twist.twist
    t.linear.x, t.linear.y, t.linear.z = (float(v) for v in lin)
    t.angular.x, t.angular.y, t.angular.z = (float(v) for v in ang)
    return msg


def fill_battery(msg: BatteryState, stamp: Time, b: BatteryModel) -> BatteryState:
    msg.header.stamp = stamp
    msg.voltage = float(b.voltage)
    msg.current = float(-b.current)  # REP/BatteryState: negative while discharging
    msg.charge = float(b.soc * b.capacity_ah)
    msg.capacity = float(b.capacity_ah)
    msg.design_capacity = float(b.capacity_ah)
    msg.percentage = float(b.soc)
    msg.power_supply_status = (
        BatteryState.POWER_SUPPLY_STATUS_CHARGING if b.charging else BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    )
    msg.power_supply_health = (
        BatteryState.POWER_SUPPLY_HEALTH_GOOD if b.extra_resistance == 0.0 else BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    )
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
    # The pack temperature when the model simulates one, else NaN: BatteryState's "unmeasured" (0.0 would be a
    # reading of 0 degC).
    msg.temperature = float(getattr(b, "temperature", math.nan))
    msg.present = True
    return msg


def fill_health(msg: ActuatorHealth, stamp: Time, tw: np.ndarray, th: np.ndarray, cur: np.ndarray,
                volts: float) -> ActuatorHealth:
    msg.header.stamp = stamp
    msg.winding_temperature = _d(tw)
    msg.housing_temperature = _d(th)
    msg.current = _d(cur)
    msg.supply_voltage = _d(np.full(len(tw), volts))
    return msg


def fill_humans(msg: DetectedHumans, stamp: Time, seen: list[Detection], rng: float, fov: float) -> DetectedHumans:
    msg.header.stamp = stamp
    msg.sensor_range = rng
    msg.field_of_view = fov
    out = []
    for h in seen:
        d = DetectedHuman()
        d.id = h.id
        d.position.x, d.position.y, d.position.z = h.x, h.y, 0.9
        d.velocity.x, d.velocity.y = h.vx, h.vy
        d.confidence = h.confidence
        out.append(d)
    msg.humans = out
    return msg
