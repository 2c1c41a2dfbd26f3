"""The few fields the consistency checks need, read from serialized (CDR) messages in batches.

twin_node subscribes to ``imu`` (100 Hz) and ``odom`` (50 Hz) raw: rclpy hands over the serialized bytes without
building a Python message (whose covariance arrays cost most of the per-message time), the node keeps them in a list
and, once per report, this module reads stamps, angular velocity and specific force (``sensor_msgs/Imu``) or forward
speed and yaw rate (``nav_msgs/Odometry``) with the layouts of ``sigma_ros_common.cdr``. Every sample is still used.
A buffer that is too short, or carries another encapsulation, is counted as malformed, never raised.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from sigma_ros_common.cdr import (
    ENCAPSULATION,
    IMU_ACCEL,
    IMU_DOUBLES,
    IMU_GYRO,
    IMU_STRINGS,
    ODOM_DOUBLES,
    ODOM_STRINGS,
    ODOM_TWIST,
    CdrError,
    doubles_start,
    formats,
    stamp_of,
)

__all__ = ["imu_batch", "odom_batch", "stamp_of"]


def _read_batch(raw: Sequence[bytes], strings: int, n_doubles: int,
                spans: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """(stamps [s], one row per good buffer of the doubles read at ``spans`` ((format, double index) after the
    header's ``strings`` strings), malformed count) for messages carrying ``n_doubles`` doubles there."""
    t: list[float] = []
    rows: list[tuple[float, ...]] = []
    bad = 0
    for buf in raw:
        try:
            fmt = formats(buf)
            start = doubles_start(buf, fmt, strings)
            if start + 8 * n_doubles > len(buf):
                raise CdrError("truncated")
            sec, nsec = fmt.stamp.unpack_from(buf, ENCAPSULATION)
            row: tuple[float, ...] = ()
            for name, index in spans:
                row += getattr(fmt, name).unpack_from(buf, start + 8 * index)
            rows.append(row)
            t.append(sec + 1e-9 * nsec)
        except (CdrError, struct.error):
            bad += 1
    width = sum(3 if name == "d3" else 1 for name, _ in spans)
    return np.asarray(t, dtype=float), np.asarray(rows, dtype=float).reshape(-1, width), bad


def imu_batch(raw: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(stamps [s], angular velocity (n, 3) [rad/s], specific force (n, 3) [m/s^2], malformed count)."""
    t, rows, bad = _read_batch(raw, IMU_STRINGS, IMU_DOUBLES, (("d3", IMU_GYRO), ("d3", IMU_ACCEL)))
    return t, rows[:, 0:3], rows[:, 3:6], bad


def odom_batch(raw: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(stamps [s], forward speed twist.linear.x [m/s], yaw rate twist.angular.z [rad/s], malformed count)."""
    t, rows, bad = _read_batch(raw, ODOM_STRINGS, ODOM_DOUBLES, (("d1", ODOM_TWIST), ("d1", ODOM_TWIST + 5)))
    return t, rows[:, 0], rows[:, 1], bad
