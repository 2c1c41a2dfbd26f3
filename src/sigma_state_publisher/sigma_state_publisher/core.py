"""What robot_state_publisher computes, as plain values: no rclpy, no clock (stamps are passed in).

Frames follow the multi-robot prefix scheme: every URDF link ``L`` of robot ``r1`` is the tf frame ``r1/L``; the
odometry frame (``odom``) is the driver's and is not prefixed. Fixed joints go on ``/tf_static`` once, moving joints
on ``/tf`` for the positions of the latest ``joint_states``, and ``odom -> r1/base_link`` from the odometry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sigma_description.kinematics import Kinematics, Transform
from sigma_description.urdf import RobotDescription


def frame_prefix(robot_id: str, namespace: str = "/") -> str:
    """``"<robot_id>/"``; an empty id falls back to the node namespace (``/r1`` -> ``r1/``, ``/`` -> no prefix)."""
    rid = robot_id.strip("/") or namespace.strip("/")
    if any(c.isspace() for c in rid):
        raise ValueError(f"robot_id {rid!r} must not contain white space (it becomes a tf frame prefix)")
    return f"{rid}/" if rid else ""


@dataclass(frozen=True)
class JointUpdate:
    """Transforms for one joint_states message: what is published, and the joints it could not use."""

    transforms: list[Transform]
    unknown: list[str]
    nonfinite: list[str]


class StateModel:
    """The URDF's fixed and moving joints, with frames prefixed for one robot."""

    def __init__(self, robot: RobotDescription, prefix: str) -> None:
        self.robot = robot
        self.kinematics = Kinematics(robot)
        self.prefix = prefix
        self.moving = {j.name for j in robot.moving_joints}
        self.root_frame = prefix + robot.root_link

    def static_transforms(self) -> list[Transform]:
        """Every fixed joint's parent -> child transform (constant: for ``/tf_static``)."""
        return [t for j, t in zip(self.robot.joints, self.kinematics.transforms({}, self.prefix), strict=True)
                if not j.moving]

    def joint_transforms(self, names: Sequence[str], positions: Sequence[float]) -> JointUpdate:
        """Transforms of the moving joints named in a joint_states message (as robot_state_publisher: joints
        absent from the message are not published; a non-finite position is skipped and reported)."""
        given: dict[str, float] = {}
        unknown, nonfinite = [], []
        for name, q in zip(names, positions, strict=False):
            if name not in self.moving:
                unknown.append(name)
            elif not math.isfinite(q):
                nonfinite.append(name)
            else:
                given[name] = float(q)
        out = [t for j, t in zip(self.robot.joints, self.kinematics.transforms(given, self.prefix), strict=True)
               if j.name in given]
        return JointUpdate(out, unknown, nonfinite)

    def base_transform(self, odom_frame: str, xyz: Sequence[float], q_xyzw: Sequence[float]) -> Transform | None:
        """``odom -> <prefix>base_link`` from an odometry pose; None if it is not finite or the quaternion is zero."""
        vals = [*xyz, *q_xyzw]
        if not all(math.isfinite(v) for v in vals):
            return None
        norm = math.sqrt(sum(v * v for v in q_xyzw))
        if norm < 1e-9:
            return None
        qx, qy, qz, qw = (float(v) / norm for v in q_xyzw)
        return Transform(odom_frame or "odom", self.root_frame, (float(xyz[0]), float(xyz[1]), float(xyz[2])),
                         (qx, qy, qz, qw))
