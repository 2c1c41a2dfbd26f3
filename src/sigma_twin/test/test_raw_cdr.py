"""The serialized-message reader against rclpy's own serializer: every field the consistency checks use comes back
exact, for frame ids of every length (alignment), and broken buffers are counted, never raised."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Imu, JointState

from sigma_twin.core import raw_cdr


def _imu(k: int, frame: str) -> Imu:
    m = Imu()
    m.header.stamp = Time(sec=100 + k, nanosec=250_000_000)
    m.header.frame_id = frame
    m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z = 0.1 * k, -0.2, 0.3 + k
    m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = 1.5, -k * 0.5, 9.81
    m.orientation_covariance[0] = 7.0  # neighbours must not leak into the fields read
    m.angular_velocity_covariance[8] = 8.0
    return m


def test_imu_fields_match_the_message_for_any_frame_id_length() -> None:
    msgs = [_imu(k, "x" * k) for k in range(9)]
    t, gyro, acc, bad = raw_cdr.imu_batch([serialize_message(m) for m in msgs])
    assert bad == 0
    assert np.allclose(t, [100 + k + 0.25 for k in range(9)])
    assert np.allclose(gyro, [[0.1 * k, -0.2, 0.3 + k] for k in range(9)])
    assert np.allclose(acc, [[1.5, -k * 0.5, 9.81] for k in range(9)])


def test_odometry_speed_and_yaw_rate_match_the_message() -> None:
    msgs = []
    for k in range(7):
        m = Odometry()
        m.header.stamp = Time(sec=5, nanosec=k * 1000)
        m.header.frame_id, m.child_frame_id = "odom" + "o" * k, "r1/base_link"[: 12 - k]
        m.pose.pose.position.x = 3.0
        m.twist.twist.linear.x, m.twist.twist.linear.y, m.twist.twist.angular.z = 0.5 + k, 9.0, -0.1 * k
        m.pose.covariance[35] = 4.0
        msgs.append(m)
    t, speed, yaw, bad = raw_cdr.odom_batch([serialize_message(m) for m in msgs])
    assert bad == 0
    assert np.allclose(t, [5 + k * 1e-6 for k in range(7)])
    assert np.allclose(speed, [0.5 + k for k in range(7)]) and np.allclose(yaw, [-0.1 * k for k in range(7)])


def test_stamp_of_any_stamped_message() -> None:
    j = JointState()
    j.header.stamp = Time(sec=42, nanosec=500_000_000)
    assert raw_cdr.stamp_of(serialize_message(j)) == 42.5
    assert np.isnan(raw_cdr.stamp_of(b"\x00\x07"))


def test_malformed_buffers_are_counted_not_raised() -> None:
    good = serialize_message(_imu(1, "imu"))
    t, gyro, acc, bad = raw_cdr.imu_batch([b"", good[:40], b"\x01\x01" + good[2:], good, good[:-8]])
    assert bad == 4 and len(t) == 1 and gyro.shape == (1, 3) and acc.shape == (1, 3)
    t, speed, _, bad = raw_cdr.odom_batch([good])  # an Imu is too short to be an Odometry
    assert bad == 1 and len(t) == 0 and len(speed) == 0
