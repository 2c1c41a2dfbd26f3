"""Robot kinematics from the URDF: per-joint transforms (parent link -> child link) for given joint positions,
and each link's visual shapes. Pure: plain values in and out (transforms3d for the rotations)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transforms3d.axangles import axangle2mat
from transforms3d.euler import euler2mat
from transforms3d.quaternions import mat2quat

MOVING = ("revolute", "continuous", "prismatic")


@dataclass(frozen=True)
class Joint:
    """One URDF joint: its type, links, fixed origin (translation, rotation matrix) and motion axis."""

    name: str
    type: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rot: np.ndarray
    axis: tuple[float, float, float]


@dataclass(frozen=True)
class Visual:
    """One visual shape of a link: kind (box/cylinder/sphere), size [m], pose in the link frame."""

    link: str
    kind: str
    size: tuple[float, ...]
    xyz: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float]


@dataclass(frozen=True)
class Transform:
    """A parent -> child transform: translation [m] and rotation as a quaternion (x, y, z, w)."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float]


def _floats(text: str | None, n: int, default: float = 0.0) -> tuple[float, ...]:
    if not text:
        return (default,) * n
    vals = tuple(float(v) for v in text.split())
    if len(vals) != n:
        raise ValueError(f"expected {n} numbers, got {text!r}")
    return vals


def _origin(el: ET.Element | None) -> tuple[tuple[float, float, float], np.ndarray]:
    if el is None:
        return (0.0, 0.0, 0.0), np.eye(3)
    xyz = _floats(el.get("xyz"), 3)
    r, p, y = _floats(el.get("rpy"), 3)
    return xyz, euler2mat(r, p, y, "sxyz")  # URDF rpy: fixed-axis roll, pitch, yaw


def _quat_xyzw(rot: np.ndarray) -> tuple[float, float, float, float]:
    w, x, y, z = mat2quat(rot)
    return (float(x), float(y), float(z), float(w))


class RobotModel:
    """The URDF's kinematic tree and visuals."""

    def __init__(self, urdf_text: str, source: str = "URDF") -> None:
        try:
            root = ET.fromstring(urdf_text)  # noqa: S314 - trusted robot description
        except ET.ParseError as exc:
            raise ValueError(f"{source} is not valid XML: {exc}") from exc
        self.name = root.get("name", "robot")
        self.joints: list[Joint] = []
        for j in root.findall("joint"):
            xyz, rot = _origin(j.find("origin"))
            axis_el = j.find("axis")
            axis = _floats(axis_el.get("xyz") if axis_el is not None else None, 3) if axis_el is not None else (1, 0, 0)
            self.joints.append(
                Joint(j.get("name", ""), j.get("type", "fixed"), j.find("parent").get("link"),  # type: ignore[union-attr]
                      j.find("child").get("link"), xyz, rot, tuple(float(a) for a in axis))  # type: ignore[union-attr]
            )
        children = {j.child for j in self.joints}
        links = [link.get("name", "") for link in root.findall("link")]
        roots = [n for n in links if n not in children]
        if len(roots) != 1:
            raise ValueError(f"{source}: expected one root link, found {roots}")
        self.root_link = roots[0]
        self.links = links
        self.visuals: list[Visual] = []
        for link in root.findall("link"):
            for vis in link.findall("visual"):
                xyz, rot = _origin(vis.find("origin"))
                geom = vis.find("geometry")
                shape = geom[0] if geom is not None and len(geom) else None
                if shape is None:
                    continue
                if shape.tag == "box":
                    size = _floats(shape.get("size"), 3)
                elif shape.tag == "cylinder":
                    size = (float(shape.get("radius", 0)), float(shape.get("length", 0)))
                elif shape.tag == "sphere":
                    size = (float(shape.get("radius", 0)),)
                else:
                    continue  # meshes are not drawn by the live view
                self.visuals.append(Visual(link.get("name", ""), shape.tag, size, xyz, _quat_xyzw(rot)))

    @classmethod
    def from_file(cls, path: str | Path) -> RobotModel:
        """Load a URDF file, with errors naming the file."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"URDF {p} does not exist (parameter urdf_path)")
        return cls(p.read_text(), source=str(p))

    @property
    def moving_joints(self) -> list[str]:
        return [j.name for j in self.joints if j.type in MOVING]

    def transforms(self, positions: Mapping[str, float], prefix: str = "") -> list[Transform]:
        """Every joint's parent -> child transform at ``positions`` (missing joints at 0); frames get ``prefix``."""
        out = []
        for j in self.joints:
            q = positions.get(j.name, 0.0)
            if not math.isfinite(q):
                q = 0.0
            rot, xyz = j.rot, np.asarray(j.xyz)
            if j.type in ("revolute", "continuous"):
                rot = rot @ axangle2mat(j.axis, q)
            elif j.type == "prismatic":
                xyz = xyz + j.rot @ (np.asarray(j.axis) * q)
            out.append(
                Transform(prefix + j.parent, prefix + j.child, (float(xyz[0]), float(xyz[1]), float(xyz[2])),
                          _quat_xyzw(rot))
            )
        return out
