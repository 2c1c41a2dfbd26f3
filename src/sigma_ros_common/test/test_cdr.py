"""sigma_ros_common.cdr reads what rclpy's own serializer writes, and refuses anything else with a CdrError."""

from __future__ import annotations

import math
import random
import struct

import pytest
from nav_msgs.msg import Odometry
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState

from sigma_ros_common import cdr


def _joint_state(rng: random.Random) -> JointState:
    m = JointState()
    m.header.stamp.sec, m.header.stamp.nanosec = rng.randrange(0, 2**31), rng.randrange(0, 10**9)
    m.header.frame_id = "f" * rng.randrange(0, 7)
    n = rng.randrange(0, 9)
    m.name = ["j" * rng.randrange(1, 6) + str(i) for i in range(n)]
    for field in ("position", "velocity", "effort"):  # empty arrays too: drivers leave velocity/effort out
        setattr(m, field, [rng.uniform(-1e3, 1e3) for _ in range(n if rng.random() < 0.8 else 0)])
    return m


def test_joint_states_read_back_what_rclpy_serialized():
    rng, reader = random.Random(1), cdr.JointStateReader()
    for _ in range(500):
        m = _joint_state(rng)
        t, names, pos, vel, eff = reader.read(serialize_message(m))
        assert t == pytest.approx(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, abs=1e-9)
        assert list(names) == list(m.name)
        assert (list(pos), list(vel), list(eff)) == (list(m.position), list(m.velocity), list(m.effort))


def test_the_same_names_come_back_as_the_same_tuple():
    reader, m = cdr.JointStateReader(), JointState(name=["a", "b"], position=[1.0, 2.0])
    first = reader.read(serialize_message(m))[1]
    m.position = [3.0, 4.0]
    assert reader.read(serialize_message(m))[1] is first
    m.name = ["a", "c"]
    assert reader.read(serialize_message(m))[1] == ("a", "c")


def test_imu_and_odometry_fields():
    rng = random.Random(2)
    for _ in range(200):
        imu = Imu()
        imu.header.frame_id = "imu" * rng.randrange(0, 4)
        imu.header.stamp.sec, imu.header.stamp.nanosec = 7, rng.randrange(0, 10**9)
        v = [rng.uniform(-10, 10) for _ in range(10)]
        imu.orientation.x, imu.orientation.y, imu.orientation.z, imu.orientation.w = v[0:4]
        imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = v[4:7]
        imu.linear_acceleration.x, imu.linear_acceleration.y, imu.linear_acceleration.z = v[7:10]
        t, q, w, a = cdr.read_imu(serialize_message(imu))
        assert t == pytest.approx(7 + 1e-9 * imu.header.stamp.nanosec)
        assert (q, w, a) == (tuple(v[0:4]), tuple(v[4:7]), tuple(v[7:10]))

        odom = Odometry()
        odom.header.frame_id = "odom"[: rng.randrange(0, 5)]
        odom.child_frame_id = "r1/base_link"[: rng.randrange(0, 13)]
        p, o, tw = odom.pose.pose.position, odom.pose.pose.orientation, odom.twist.twist
        p.x, p.y, p.z, o.x, o.y, o.z, o.w = v[0:7]
        tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.x, tw.angular.y, tw.angular.z = v[4:10]
        _, xyz, q, lin, ang = cdr.read_odometry(serialize_message(odom))
        assert (xyz, q, lin, ang) == (tuple(v[0:3]), tuple(v[3:7]), tuple(v[4:7]), tuple(v[7:10]))


def _big_endian_joint_state(names: list[str], values: list[float]) -> bytes:
    body = bytearray(struct.pack(">iI", 3, 500_000_000) + struct.pack(">I", 1) + b"\x00")

    def align(n: int) -> None:
        body.extend(bytes(-len(body) % n))

    align(4)
    body += struct.pack(">I", len(names))
    for n in names:
        align(4)
        body += struct.pack(">I", len(n) + 1) + n.encode() + b"\x00"
    for _ in range(3):
        align(4)
        body += struct.pack(">I", len(values))
        align(8)
        body += struct.pack(f">{len(values)}d", *values)
    return b"\x00\x00\x00\x00" + bytes(body)


def test_big_endian_is_read_too():
    t, names, pos, vel, eff = cdr.JointStateReader().read(_big_endian_joint_state(["knee", "hip"], [0.5, -2.0]))
    assert (t, names, pos, vel, eff) == (3.5, ("knee", "hip"), (0.5, -2.0), (0.5, -2.0), (0.5, -2.0))


def test_every_truncation_and_corruption_is_a_cdr_error_never_another_exception():
    good = serialize_message(JointState(name=["left_knee", "right_knee"], position=[1.0, 2.0], velocity=[0.0, 0.0],
                                        effort=[3.0, 4.0]))
    for n in range(len(good)):
        try:
            cdr.JointStateReader().read(good[:n])
        except cdr.CdrError:
            continue
        # a cut inside the trailing effort array's padding can still be whole; anything read must be the same
        assert n >= len(good) - 3
    imu = serialize_message(Imu())
    for n in range(len(imu)):
        with pytest.raises(cdr.CdrError):
            cdr.read_imu(imu[:n])
    with pytest.raises(cdr.UnsupportedEncodingError, match="not XCDR1"):
        cdr.read_imu(b"\x00\x07\x00\x00" + imu[4:])  # XCDR2 little endian
    bad_utf8 = good.replace(b"left_knee", b"left\xffknee")
    with pytest.raises(cdr.CdrError, match="not UTF-8"):
        cdr.JointStateReader().read(bad_utf8)
    no_nul = good.replace(b"left_knee\x00", b"left_knees")
    with pytest.raises(cdr.CdrError, match="NUL"):
        cdr.JointStateReader().read(no_nul)
    huge = bytearray(good)
    struct.pack_into("<I", huge, 4 + 16, 10**6)  # the name count (after stamp 8, empty frame_id 5, pad 3)
    with pytest.raises(cdr.CdrError, match="truncated"):
        cdr.JointStateReader().read(bytes(huge))
    assert math.isnan(cdr.stamp_of(b"\x00\x01"))


def test_tf_messages_read_back_with_rclpys_deserializer():
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    rng = random.Random(3)
    for n in range(6):
        items, msgs = [], []
        for i in range(n):
            sec, nsec = rng.randrange(0, 2**31), rng.randrange(0, 10**9)
            parent, child = "odom"[: rng.randrange(0, 5)], f"r{i}/" + "l" * rng.randrange(0, 9)
            xyz, q = tuple(rng.uniform(-5, 5) for _ in range(3)), tuple(rng.uniform(-1, 1) for _ in range(4))
            items.append((sec, nsec, parent, child, xyz, q))
            m = TransformStamped()
            m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id, m.child_frame_id = sec, nsec, parent, child
            t, r = m.transform.translation, m.transform.rotation
            t.x, t.y, t.z = xyz
            r.x, r.y, r.z, r.w = q
            msgs.append(m)
        ours, theirs = cdr.tf_message(items), serialize_message(TFMessage(transforms=msgs))
        assert len(ours) == len(theirs)  # the same layout (rclpy leaves its padding bytes uninitialised; ours are 0)
        assert deserialize_message(ours, TFMessage) == TFMessage(transforms=msgs)


def test_header_fields():
    imu = Imu()
    imu.header.stamp.sec, imu.header.stamp.nanosec, imu.header.frame_id = 12, 345, "r1/imu_link"
    assert cdr.header(serialize_message(imu)) == (12, 345, "r1/imu_link")
    assert cdr.stamp_parts(serialize_message(imu)) == (12, 345)


def test_path_poses_read_back_what_rclpy_serialized_and_a_cut_path_is_a_cdr_error():
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path

    path = Path()
    path.header.frame_id = "map"
    for k in range(7):
        q = PoseStamped()
        q.header.frame_id = "map"[: k % 4]  # frame ids of every length: every alignment case
        q.pose.position.x, q.pose.position.y, q.pose.position.z = k + 0.25, -k * 1.5, 1.0
        q.pose.orientation.w = 1.0
        path.poses.append(q)
    raw = serialize_message(path)
    assert cdr.read_path_xy(raw) == [(k + 0.25, -k * 1.5) for k in range(7)]
    assert cdr.read_path_xy(serialize_message(Path())) == []
    for n in range(len(raw) - 1):
        with pytest.raises(cdr.CdrError):
            cdr.read_path_xy(raw[:n])
