"""Forward kinematics of a parsed URDF: each joint's parent -> child transform at given joint positions.

Pure: plain values in and out (numpy and transforms3d for the rotations).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from transforms3d.axangles import axangle2mat
from transforms3d.euler import euler2mat
from transforms3d.quaternions import mat2quat

from sigma_description.urdf import RobotDescription, Vec3


@dataclass(frozen=True)
class Transform:
    """A parent -> child transform: translation [m] and rotation as a quaternion (x, y, z, w)."""

    parent: str
    child: str
    translation: Vec3
    rotation: tuple[float, float, float, float]


def rpy_matrix(rpy: Vec3) -> np.ndarray:
    """URDF rpy (fixed-axis roll, pitch, yaw) as a rotation matrix."""
    return np.asarray(euler2mat(rpy[0], rpy[1], rpy[2], "sxyz"))


def quat_xyzw(rot: np.ndarray) -> tuple[float, float, float, float]:
    """A rotation matrix as a quaternion (x, y, z, w)."""
    w, x, y, z = mat2quat(rot)
    return (float(x), float(y), float(z), float(w))


class Kinematics:
    """Precomputed joint origins of one robot; ``transforms`` evaluates them at given positions."""

    def __init__(self, robot: RobotDescription) -> None:
        self.robot = robot
        self._origins = [(j, np.asarray(j.xyz, dtype=float), rpy_matrix(j.rpy)) for j in robot.joints]

    def transforms(self, positions: Mapping[str, float], prefix: str = "") -> list[Transform]:
        """Each joint's parent -> child transform at ``positions`` (missing or non-finite: 0); frames get ``prefix``."""
        out = []
        for j, xyz, rot in self._origins:
            q = positions.get(j.name, 0.0)
            if not math.isfinite(q):
                q = 0.0
            if j.type in ("revolute", "continuous"):
                rot = rot @ axangle2mat(j.axis, q)
            elif j.type == "prismatic":
                xyz = xyz + rot @ (np.asarray(j.axis) * q)
            out.append(Transform(prefix + j.parent, prefix + j.child, (float(xyz[0]), float(xyz[1]), float(xyz[2])),
                                 quat_xyzw(rot)))
        return out
