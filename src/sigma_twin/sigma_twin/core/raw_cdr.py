"""The few fields the consistency checks need, read from serialized (CDR) messages in batches.

twin_node subscribes to ``imu`` (100 Hz) and ``odom`` (50 Hz) raw: rclpy hands over the serialized bytes without
building a Python message (whose covariance arrays cost most of the per-message time), the node keeps them in a list
and, once per report, this module reads stamps, angular velocity and specific force (``sensor_msgs/Imu``) or forward
speed and yaw rate (``nav_msgs/Odometry``) with precompiled ``struct`` formats. Every sample is still used.

Layout (OMG CDR as ROS 2's rmw writes it): a 4-byte encapsulation header (``00 01`` little endian, ``00 00`` big
endian), then the body; ``std_msgs/Header`` is ``int32 sec, uint32 nanosec, string frame_id`` (uint32 length with the
terminating NUL, then the bytes), strings align to 4 and doubles to 8, relative to the body's start. A buffer that is
too short, or carries another encapsulation, is counted as malformed, never raised.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

_ENCAP = 4
_LE = {"stamp": struct.Struct("<iI"), "u32": struct.Struct("<I"), "d3": struct.Struct("<3d"), "d1": struct.Struct("<d")}
_BE = {"stamp": struct.Struct(">iI"), "u32": struct.Struct(">I"), "d3": struct.Struct(">3d"), "d1": struct.Struct(">d")}

# offsets (in doubles) after the header's strings
IMU_STRINGS, IMU_GYRO, IMU_ACCEL, IMU_DOUBLES = 1, 13, 25, 37  # orientation 4 + cov 9, gyro 3 + cov 9, accel 3 + cov 9
ODOM_STRINGS, ODOM_TWIST, ODOM_DOUBLES = 2, 43, 85  # frame_id, child_frame_id; pose 7 + cov 36; twist 6 + cov 36


def _formats(buf: bytes) -> dict[str, struct.Struct] | None:
    if len(buf) < _ENCAP + 12 or buf[0] != 0:
        return None
    return _LE if buf[1] == 1 else _BE if buf[1] == 0 else None


def _doubles_start(buf: bytes, fmt: dict[str, struct.Struct], strings: int) -> int:
    """Absolute offset of the first double after the header stamp and ``strings`` strings."""
    off = 8
    for _ in range(strings):
        off = (off + 3) // 4 * 4
        (n,) = fmt["u32"].unpack_from(buf, _ENCAP + off)
        off += 4 + n
    return _ENCAP + (off + 7) // 8 * 8


def stamp_of(buf: bytes) -> float:
    """``header.stamp`` of any stamped message in seconds (NaN when the buffer cannot carry one)."""
    fmt = _formats(buf)
    if fmt is None:
        return float("nan")
    sec, nsec = fmt["stamp"].unpack_from(buf, _ENCAP)
    return sec + 1e-9 * nsec


def _read_batch(raw: Sequence[bytes], strings: int, n_doubles: int,
                spans: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """(stamps [s], one row per good buffer of the doubles read at ``spans`` ((format, double index) after the
    header's ``strings`` strings), malformed count) for messages carrying ``n_doubles`` doubles there."""
    t: list[float] = []
    rows: list[tuple[float, ...]] = []
    bad = 0
    for buf in raw:
        fmt = _formats(buf)
        try:
            if fmt is None:
                raise ValueError
            start = _doubles_start(buf, fmt, strings)
            if start + 8 * n_doubles > len(buf):
                raise ValueError
            sec, nsec = fmt["stamp"].unpack_from(buf, _ENCAP)
            row: tuple[float, ...] = ()
            for name, index in spans:
                row += fmt[name].unpack_from(buf, start + 8 * index)
            rows.append(row)
            t.append(sec + 1e-9 * nsec)
        except (ValueError, struct.error):
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
