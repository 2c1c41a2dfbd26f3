"""The live view's robot model: the URDF read by sigma_description's one reader, its forward kinematics, and each
link's visual shapes with their orientation as a quaternion. Pure: plain values in and out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sigma_description.kinematics import Kinematics, Transform, quat_xyzw, rpy_matrix
from sigma_description.urdf import load_urdf, parse_urdf

__all__ = ["RobotModel", "Transform", "Visual"]


@dataclass(frozen=True)
class Visual:
    """One visual shape of a link: kind (box/cylinder/sphere), size [m], pose in the link frame."""

    link: str
    kind: str
    size: tuple[float, ...]
    xyz: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float]


class RobotModel:
    """The URDF's kinematic tree and visuals (ValueError naming the source when it is unusable)."""

    def __init__(self, urdf_text: str, source: str = "URDF") -> None:
        self._init(parse_urdf(urdf_text, source=source))

    def _init(self, robot) -> None:
        self.name = robot.name
        self.xml = robot.xml  # the URDF text, offered to viewers by the live view
        self.links = list(robot.links)
        self.root_link = robot.root_link
        self._kinematics = Kinematics(robot)
        self.moving_joints = [j.name for j in robot.moving_joints]
        self.visuals = [Visual(v.link, v.kind, v.size, v.xyz, quat_xyzw(rpy_matrix(v.rpy))) for v in robot.visuals]

    @classmethod
    def from_file(cls, path: str | Path) -> RobotModel:
        """Load a URDF file, with errors naming the file (and the parameter urdf_path when it cannot be read)."""
        model = cls.__new__(cls)
        model._init(load_urdf(path, parameter="urdf_path"))
        return model

    def transforms(self, positions: Mapping[str, float], prefix: str = "") -> list[Transform]:
        """Every joint's parent -> child transform at ``positions`` (missing joints at 0); frames get ``prefix``."""
        return self._kinematics.transforms(positions, prefix)
