"""Read the fields a node needs from serialized ROS 2 messages (CDR), without building the Python message; pure.

Why: rclpy turns every received message into a Python object field by field (a ``sensor_msgs/Imu`` is ~40 objects
with its covariance arrays); at 100 Hz per topic that conversion was a quarter of the safety process's CPU. A node
that subscribes with ``raw=True`` gets the serialized bytes instead and reads what it uses here with precompiled
``struct`` formats.

Layout (OMG CDR, XCDR1, as ROS 2's rmw implementations write ROS types): a 4-byte encapsulation header (``00 01``
little endian, ``00 00`` big endian, then two option bytes), then the body. Primitives align to their size relative to
the body's start; a string is a uint32 length that counts its terminating NUL, then the bytes; a sequence is a uint32
count, then its elements (an empty sequence adds no padding, as Fast CDR and Cyclone DDS write it).
``std_msgs/Header`` is ``int32 sec, uint32 nanosec, string frame_id``.

Every reader is strict: a buffer with another encapsulation, one too short for what it claims, a string without its
NUL or with invalid UTF-8 raises ``CdrError`` (a ``ValueError``) saying what and where — callers turn that into their
own input fault, never a crash. ``UnsupportedEncodingError`` (a ``CdrError``) marks an encapsulation this module
does not read; ``sigma_ros_common.serialized.read_or_deserialize`` then hands it to rclpy's deserializer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

ENCAPSULATION = 4


class CdrError(ValueError):
    """The bytes are not the CDR of the expected message."""


class UnsupportedEncodingError(CdrError):
    """An encapsulation other than plain XCDR1 (e.g. XCDR2 from a foreign DDS vendor)."""


class _Formats:
    __slots__ = ("d1", "d3", "d4", "seq", "stamp", "u32", "xy")

    def __init__(self, order: str) -> None:
        self.stamp = struct.Struct(order + "iI")
        self.u32 = struct.Struct(order + "I")
        self.d1 = struct.Struct(order + "d")
        self.d3 = struct.Struct(order + "3d")
        self.d4 = struct.Struct(order + "4d")
        self.xy = struct.Struct(order + "2d")
        self.seq: dict[int, struct.Struct] = {}

    def doubles(self, n: int) -> struct.Struct:
        s = self.seq.get(n)
        if s is None:
            s = self.seq[n] = struct.Struct(f"{self.u32.format[0]}{n}d")
        return s


LITTLE = _Formats("<")
BIG = _Formats(">")


def formats(buf: bytes) -> _Formats:
    """The byte order the encapsulation header names; raises ``UnsupportedEncodingError`` for any other header."""
    if len(buf) < ENCAPSULATION + 8:
        raise CdrError(f"{len(buf)} bytes: too short for a stamped message")
    if buf[0] == 0 and buf[1] == 1:
        return LITTLE
    if buf[0] == 0 and buf[1] == 0:
        return BIG
    raise UnsupportedEncodingError(f"encapsulation 0x{buf[0]:02x}{buf[1]:02x} is not XCDR1")


def _need(buf: bytes, end: int, what: str) -> None:
    if end > len(buf):
        raise CdrError(f"truncated: {what} ends at byte {end} of {len(buf)}")


def skip_string(buf: bytes, f: _Formats, off: int) -> int:
    """Body offset after the string at body offset ``off`` (aligned first)."""
    off = (off + 3) & ~3
    _need(buf, ENCAPSULATION + off + 4, "string length")
    (n,) = f.u32.unpack_from(buf, ENCAPSULATION + off)
    end = off + 4 + n
    _need(buf, ENCAPSULATION + end, "string")
    return end


def read_string(buf: bytes, f: _Formats, off: int) -> tuple[str, int]:
    """(string, body offset after it) for the string at body offset ``off``."""
    start = ((off + 3) & ~3) + 4
    end = skip_string(buf, f, off)
    if end == start or buf[ENCAPSULATION + end - 1] != 0:
        raise CdrError(f"string at byte {ENCAPSULATION + start} has no terminating NUL")
    try:
        return buf[ENCAPSULATION + start:ENCAPSULATION + end - 1].decode(), end
    except UnicodeDecodeError as exc:
        raise CdrError(f"string at byte {ENCAPSULATION + start} is not UTF-8 ({exc.reason})") from exc


def read_doubles(buf: bytes, f: _Formats, off: int) -> tuple[tuple[float, ...], int]:
    """(values, body offset after them) for the ``float64[]`` sequence at body offset ``off``."""
    off = (off + 3) & ~3
    _need(buf, ENCAPSULATION + off + 4, "sequence length")
    (n,) = f.u32.unpack_from(buf, ENCAPSULATION + off)
    off += 4
    if n == 0:
        return (), off
    off = (off + 7) & ~7
    _need(buf, ENCAPSULATION + off + 8 * n, f"sequence of {n} float64")
    return f.doubles(n).unpack_from(buf, ENCAPSULATION + off), off + 8 * n


def stamp(buf: bytes, f: _Formats) -> float:
    """``header.stamp`` [s] of a message that starts with a ``std_msgs/Header``."""
    sec, nsec = f.stamp.unpack_from(buf, ENCAPSULATION)
    return sec + 1e-9 * nsec


def header(buf: bytes) -> tuple[int, int, str]:
    """``std_msgs/Header`` of a message that starts with one: (stamp sec, stamp nanosec, frame_id)."""
    f = formats(buf)
    sec, nsec = f.stamp.unpack_from(buf, ENCAPSULATION)
    return sec, nsec, read_string(buf, f, 8)[0]


def stamp_parts(buf: bytes) -> tuple[int, int]:
    """``header.stamp`` as (sec, nanosec), exactly as sent."""
    return formats(buf).stamp.unpack_from(buf, ENCAPSULATION)


def stamp_of(buf: bytes) -> float:
    """``header.stamp`` [s] of any stamped message; NaN when the buffer cannot carry one."""
    try:
        return stamp(buf, formats(buf))
    except CdrError:
        return float("nan")


def read_path_xy(buf: bytes) -> list[tuple[float, float]]:
    """(x, y) of every pose of a ``nav_msgs/Path`` (Header, then ``geometry_msgs/PoseStamped[]``: each a Header and a
    Pose of seven float64) — a robot's route is 100-250 poses, ~6 Python objects each when rclpy builds it."""
    f = formats(buf)
    off = skip_string(buf, f, 8)                        # header: stamp, frame_id
    off = (off + 3) & ~3
    _need(buf, ENCAPSULATION + off + 4, "pose count")
    (count,) = f.u32.unpack_from(buf, ENCAPSULATION + off)
    off += 4
    out = []
    for _ in range(count):
        off = skip_string(buf, f, ((off + 3) & ~3) + 8)  # the pose's header: stamp, frame_id
        off = (off + 7) & ~7
        _need(buf, ENCAPSULATION + off + 56, "pose")
        out.append(f.xy.unpack_from(buf, ENCAPSULATION + off))
        off += 56                                       # position x, y, z, orientation x, y, z, w
    return out


def doubles_start(buf: bytes, f: _Formats, strings: int) -> int:
    """Absolute offset of the first float64 after the header's stamp and ``strings`` strings."""
    off = 8
    for _ in range(strings):
        off = skip_string(buf, f, off)
    return ENCAPSULATION + ((off + 7) & ~7)


def _fixed(buf: bytes, strings: int, n_doubles: int, what: str) -> tuple[_Formats, int]:
    f = formats(buf)
    start = doubles_start(buf, f, strings)
    _need(buf, start + 8 * n_doubles, what)
    return f, start


# offsets (in float64) after the header's strings
IMU_STRINGS, IMU_GYRO, IMU_ACCEL, IMU_DOUBLES = 1, 13, 25, 37  # orientation 4 + cov 9, gyro 3 + cov 9, accel 3 + cov 9
ODOM_STRINGS, ODOM_TWIST, ODOM_DOUBLES = 2, 43, 85  # frame_id, child_frame_id; pose 7 + cov 36; twist 6 + cov 36


def read_imu(buf: bytes) -> tuple[float, tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """``sensor_msgs/Imu``: (stamp [s], orientation (x, y, z, w), angular velocity, linear acceleration)."""
    f, start = _fixed(buf, IMU_STRINGS, IMU_DOUBLES, "sensor_msgs/Imu")
    return (stamp(buf, f), f.d4.unpack_from(buf, start), f.d3.unpack_from(buf, start + 8 * IMU_GYRO),
            f.d3.unpack_from(buf, start + 8 * IMU_ACCEL))


def read_odometry(buf: bytes) -> tuple[float, tuple[float, ...], tuple[float, ...], tuple[float, ...],
                                       tuple[float, ...]]:
    """``nav_msgs/Odometry``: (stamp [s], position (x, y, z), orientation (x, y, z, w), twist linear, twist
    angular)."""
    f, start = _fixed(buf, ODOM_STRINGS, ODOM_DOUBLES, "nav_msgs/Odometry")
    return (stamp(buf, f), f.d3.unpack_from(buf, start), f.d4.unpack_from(buf, start + 24),
            f.d3.unpack_from(buf, start + 8 * ODOM_TWIST), f.d3.unpack_from(buf, start + 8 * (ODOM_TWIST + 3)))


class JointStateReader:
    """``sensor_msgs/JointState`` → (stamp, names, position, velocity, effort).

    The names are decoded only when their bytes differ from the previous message's (a driver sends the same list
    every time); then the same tuple object is returned, so a consumer can skip re-validating it by identity.
    """

    def __init__(self) -> None:
        self._names_raw = b""
        self._names: tuple[str, ...] = ()

    def read(self, buf: bytes) -> tuple[float, tuple[str, ...], tuple[float, ...], tuple[float, ...],
                                        tuple[float, ...]]:
        """The fields of one message; ``CdrError`` when the bytes are not a JointState."""
        f = formats(buf)
        off = skip_string(buf, f, 8)  # header.frame_id
        begin = (off + 3) & ~3
        _need(buf, ENCAPSULATION + begin + 4, "name sequence length")
        (n,) = f.u32.unpack_from(buf, ENCAPSULATION + begin)
        end = begin + 4
        for _ in range(n):
            end = skip_string(buf, f, end)
        raw = buf[ENCAPSULATION + begin:ENCAPSULATION + end]
        if raw != self._names_raw:
            names, o = [], begin + 4
            for _ in range(n):
                name, o = read_string(buf, f, o)
                names.append(name)
            self._names_raw, self._names = raw, tuple(names)
        position, off = read_doubles(buf, f, end)
        velocity, off = read_doubles(buf, f, off)
        effort, _ = read_doubles(buf, f, off)
        return stamp(buf, f), self._names, position, velocity, effort


_TF_HEAD = struct.Struct("<iI")
_TF_POSE = struct.Struct("<7d")


def _put_string(out: bytearray, text: str) -> None:
    out += bytes(-(len(out) - ENCAPSULATION) % 4)
    raw = text.encode()
    out += LITTLE.u32.pack(len(raw) + 1)
    out += raw
    out.append(0)


def tf_message(transforms: Sequence[tuple[int, int, str, str, Sequence[float], Sequence[float]]]) -> bytes:
    """Serialized ``tf2_msgs/TFMessage`` (little endian, rclpy's layout, padding zeroed) from
    (stamp sec, stamp nanosec, parent frame, child frame, translation xyz, rotation xyzw) per transform."""
    out = bytearray(b"\x00\x01\x00\x00")
    out += LITTLE.u32.pack(len(transforms))
    for sec, nsec, parent, child, xyz, q in transforms:
        out += _TF_HEAD.pack(sec, nsec)  # aligned: every element ends on an 8-byte boundary
        _put_string(out, parent)
        _put_string(out, child)
        out += bytes(-(len(out) - ENCAPSULATION) % 8)
        out += _TF_POSE.pack(xyz[0], xyz[1], xyz[2], q[0], q[1], q[2], q[3])
    return bytes(out)
