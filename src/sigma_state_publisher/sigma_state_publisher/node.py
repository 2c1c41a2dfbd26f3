"""state_publisher: the rclpy shell of :mod:`sigma_state_publisher.core`.

Publishes, like robot_state_publisher: the URDF text on ``robot_description`` (std_msgs/String, latched), fixed
joints on ``/tf_static`` (latched), moving joints from ``joint_states`` on ``/tf`` at most ``publish_frequency`` times
a second, and (unlike robot_state_publisher, which leaves it to the odometry source) ``odom -> <id>/base_link`` from
``odom`` in the same TFMessage.

Cost: the node wakes only for its timer (rclpy's EventsExecutor). The two subscriptions live on an inbox node that no
executor spins (keep last 1); each tick takes the newest sample of each, serialized, and reads the fields it uses
with ``sigma_ros_common.cdr``; the TFMessage is written as CDR bytes too (no Python message per transform).
Callbacks per sample would wake the process 150 times a second (joint_states 100 Hz + odom 50 Hz) only to keep the
last one (bench/state_publisher_cpu.py measures both).
"""

from __future__ import annotations

import sys
from typing import Any

from geometry_msgs.msg import TransformStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from sigma_description.kinematics import Transform
from sigma_description.urdf import load_urdf
from sigma_ros_common import cdr, ros_params, serialized, spin
from sigma_ros_common.callbacks import quiet_timer
from sigma_ros_common.inbox import Inbox, take_newest
from sigma_ros_common.qos import LATCHED, SENSOR
from sigma_ros_common.share import resolve_file
from sigma_state_publisher.core import StateModel, frame_prefix
from sigma_state_publisher.params import StatePublisherParams

TF_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)  # tf2_ros' DynamicBroadcasterQoS


# Sensor-data QoS (best effort, volatile) keeping only the newest sample: the timer wants the latest state.
NEWEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=SENSOR.reliability,
                    durability=SENSOR.durability)


def _stamped(t: Transform, stamp) -> TransformStamped:
    m = TransformStamped()
    m.header.stamp = stamp
    m.header.frame_id = t.parent
    m.child_frame_id = t.child
    m.transform.translation.x, m.transform.translation.y, m.transform.translation.z = t.translation
    r = m.transform.rotation
    r.x, r.y, r.z, r.w = t.rotation
    return m


class StatePublisher(Node):
    """robot_description, /tf_static and /tf for one robot."""

    def __init__(self) -> None:
        super().__init__("state_publisher")
        self.p = p = ros_params.load(self, StatePublisherParams)
        urdf_path = resolve_file(p.urdf_path, "sigma_state_publisher", "urdf_path")
        robot = load_urdf(urdf_path)
        self.state = StateModel(robot, frame_prefix(p.robot_id, self.get_namespace()))
        self._warned: set[tuple[str, str]] = set()
        self.description_pub = self.create_publisher(String, "robot_description", LATCHED)
        self.static_pub = self.create_publisher(TFMessage, p.tf_static_topic, LATCHED)
        self.tf_pub = self.create_publisher(TFMessage, p.tf_topic, TF_QOS)
        # Not added to any executor: polled by the timer (see the module docstring).
        self.inbox = Inbox(self)
        self._joints_sub = self.inbox.subscribe(JointState, "joint_states", NEWEST, raw=True)
        self._odom_sub = self.inbox.subscribe(Odometry, "odom", NEWEST, raw=True) if p.publish_odom_tf else None
        self._read_joints = _joint_fields(cdr.JointStateReader())  # built once: its name cache lives across ticks
        self.description_pub.publish(String(data=robot.xml))
        stamp = self.get_clock().now().to_msg()
        static = self.state.static_transforms()
        self.static_pub.publish(TFMessage(transforms=[_stamped(t, stamp) for t in static]))
        # Quiet on shutdown: a Ctrl-C landing inside the tick (a take on a dying context) is not an error.
        self.create_timer(1.0 / p.publish_frequency, quiet_timer(self.context, self._publish))
        self.get_logger().info(
            f"state_publisher ready: {urdf_path.name}, {len(self.state.moving)} moving joints, {len(static)} fixed, "
            f"frames '{self.state.prefix}<link>', {p.tf_topic} at <= {p.publish_frequency:g} Hz"
            f"{', odom -> ' + self.state.root_frame if p.publish_odom_tf else ''}")

    def destroy_node(self) -> None:
        inbox, self.inbox = getattr(self, "inbox", None), None
        if inbox is not None:
            inbox.destroy()
        super().destroy_node()

    def _read(self, topic: str, raw: bytes, read: Any, msg_type: type, fields: Any) -> Any:
        """The fields of a serialized sample, or None (warned, throttled) when the bytes are not one."""
        try:
            return serialized.read_or_deserialize(raw, read, msg_type, fields)
        except cdr.CdrError as exc:
            self.get_logger().warning(f"{topic}: not a {msg_type.__name__} ({exc}): skipped",
                                      throttle_duration_sec=5.0)
            return None

    def _publish(self) -> None:
        joints = take_newest(self._joints_sub)
        odom = take_newest(self._odom_sub) if self._odom_sub is not None else None
        out: list[tuple[int, int, str, str, Any, Any]] = []
        if joints is not None and (js := self._read("joint_states", joints, self._read_joints,
                                                    JointState, _joint_message_fields)) is not None:
            sec, nsec, names, positions = js
            update = self.state.joint_transforms(names, positions)
            out += [(sec, nsec, t.parent, t.child, t.translation, t.rotation) for t in update.transforms]
            for kind, bad in (("unknown joint", update.unknown), ("non-finite position of", update.nonfinite)):
                fresh = [n for n in bad if (kind, n) not in self._warned]
                if fresh:  # once per joint: a driver repeats the same message at its full rate
                    self._warned.update((kind, n) for n in fresh)
                    self.get_logger().warning(f"joint_states: {kind} {', '.join(fresh)}: not published on tf")
        if odom is not None and (od := self._read("odom", odom, _odom_fields, Odometry,
                                                  _odom_message_fields)) is not None:
            sec, nsec, frame, xyz, q = od
            base = self.state.base_transform(frame, xyz, q)
            if base is not None:
                out.append((sec, nsec, base.parent, base.child, base.translation, base.rotation))
        if out:
            self.tf_pub.publish(cdr.tf_message(out))


def _joint_fields(reader: cdr.JointStateReader) -> Any:
    def read(raw: bytes) -> tuple[int, int, tuple[str, ...], tuple[float, ...]]:
        _, names, positions, _, _ = reader.read(raw)
        sec, nsec = cdr.stamp_parts(raw)
        return sec, nsec, names, positions
    return read


def _joint_message_fields(m: JointState) -> tuple[int, int, list[str], list[float]]:
    return m.header.stamp.sec, m.header.stamp.nanosec, list(m.name), list(m.position)


def _odom_fields(raw: bytes) -> tuple[int, int, str, tuple[float, ...], tuple[float, ...]]:
    sec, nsec, frame = cdr.header(raw)
    _, xyz, q, _, _ = cdr.read_odometry(raw)
    return sec, nsec, frame, xyz, q


def _odom_message_fields(m: Odometry) -> tuple[int, int, str, tuple[float, ...], tuple[float, ...]]:
    p, o = m.pose.pose.position, m.pose.pose.orientation
    return m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id, (p.x, p.y, p.z), (o.x, o.y, o.z, o.w)


def main(args: list[str] | None = None) -> None:
    """Entry point of ``state_publisher``."""
    sys.exit(spin.run("state_publisher", lambda: [StatePublisher()], args,
                      executor_for=lambda _nodes: spin.events_executor()))


if __name__ == "__main__":
    main()
