"""The one URDF reader: links, masses, joints with origins, axes and limits, transmissions, visuals.

Pure (``xml.etree`` only; no rclpy, no numpy), so safety's core, the simulator, the bridge's live view and any new
core read the robot the same way. Errors name the source and the element (``x.urdf: joint 'knee': <limit> lacks
'effort'``) so a malformed model fails at start with a message that says where to look.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sigma_ros_common.params import ConfigError

MOVING = ("revolute", "continuous", "prismatic")
JOINT_TYPES = (*MOVING, "fixed", "floating", "planar")

Vec3 = tuple[float, float, float]


class UrdfError(ConfigError):
    """A robot description that cannot be used; the message names the source and the element."""


@dataclass(frozen=True)
class JointLimit:
    """Position range [rad or m], peak velocity [rad/s or m/s] and peak effort [N·m or N] of one joint."""

    name: str
    lower: float
    upper: float
    velocity: float
    effort: float


@dataclass(frozen=True)
class Joint:
    """One URDF joint: type, parent and child link, fixed origin (xyz [m], fixed-axis rpy [rad]), unit axis, limit."""

    name: str
    type: str
    parent: str
    child: str
    xyz: Vec3 = (0.0, 0.0, 0.0)
    rpy: Vec3 = (0.0, 0.0, 0.0)
    axis: Vec3 = (1.0, 0.0, 0.0)
    limit: JointLimit | None = None

    @property
    def moving(self) -> bool:
        """Revolute, continuous or prismatic."""
        return self.type in MOVING


@dataclass(frozen=True)
class Visual:
    """One visual shape of a link: kind (box/cylinder/sphere), size [m], pose (xyz, rpy) in the link frame."""

    link: str
    kind: str
    size: tuple[float, ...]
    xyz: Vec3
    rpy: Vec3


@dataclass(frozen=True)
class RobotDescription:
    """A parsed URDF. ``joints`` keep file order; ``link_masses`` has every link (0 kg without ``<inertial>``)."""

    source: str
    name: str
    xml: str
    links: tuple[str, ...]
    link_masses: Mapping[str, float]
    joints: tuple[Joint, ...]
    gears: Mapping[str, float] = field(default_factory=dict)
    visuals: tuple[Visual, ...] = ()

    @property
    def moving_joints(self) -> list[Joint]:
        """Revolute, continuous and prismatic joints, in file order."""
        return [j for j in self.joints if j.moving]

    @property
    def joint_limits(self) -> dict[str, JointLimit]:
        """The limit of every moving joint, by name."""
        return {j.name: j.limit for j in self.joints if j.moving and j.limit is not None}

    @property
    def total_mass(self) -> float:
        """Sum of the link masses [kg]."""
        return sum(self.link_masses.values())

    def gear(self, joint: str) -> float:
        """Mechanical reduction of the joint's transmission (1 without one)."""
        return self.gears.get(joint, 1.0)

    @property
    def root_link(self) -> str:
        """The one link that is nobody's child (UrdfError when the links do not form one tree)."""
        children = {j.child for j in self.joints}
        roots = [n for n in self.links if n not in children]
        if len(roots) != 1:
            raise UrdfError(f"{self.source}: kinematic tree must have exactly one root link, found {roots}")
        return roots[0]


def _number(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UrdfError(f"{where}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise UrdfError(f"{where}={raw!r} is not finite")
    return value


def _vec3(text: str | None, where: str, default: Vec3 = (0.0, 0.0, 0.0)) -> Vec3:
    if not text:
        return default
    parts = text.split()
    if len(parts) != 3:
        raise UrdfError(f"{where}: expected 3 numbers, got {text!r}")
    x, y, z = (_number(p, where) for p in parts)
    return (x, y, z)


def _origin(el: ET.Element | None, where: str) -> tuple[Vec3, Vec3]:
    if el is None:
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    return _vec3(el.get("xyz"), f"{where} <origin xyz>"), _vec3(el.get("rpy"), f"{where} <origin rpy>")


def _limit(joint: ET.Element, name: str, kind: str, where: str) -> JointLimit:
    """A moving joint's ``<limit>``: all four attributes for revolute/prismatic, velocity+effort for continuous."""
    limit = joint.find("limit")
    if limit is None:
        raise UrdfError(f"{where} has no <limit>")
    values: dict[str, float] = {}
    required = ("velocity", "effort") if kind == "continuous" else ("lower", "upper", "velocity", "effort")
    for attr in ("lower", "upper", "velocity", "effort"):
        raw = limit.get(attr)
        if raw is None:
            if attr in required:
                raise UrdfError(f"{where} <limit> lacks {attr!r}")
            continue
        values[attr] = _number(raw, f"{where} <limit {attr}>")
    if kind == "continuous":
        values.setdefault("lower", -math.inf)
        values.setdefault("upper", math.inf)
    if values["lower"] > values["upper"]:
        raise UrdfError(f"{where} has lower {values['lower']} > upper {values['upper']}")
    if values["velocity"] <= 0.0 or values["effort"] <= 0.0:
        raise UrdfError(f"{where} needs positive velocity and effort limits")
    return JointLimit(name, values["lower"], values["upper"], values["velocity"], values["effort"])


def _visuals(link: ET.Element, lname: str, where: str) -> list[Visual]:
    out = []
    for vis in link.findall("visual"):
        xyz, rpy = _origin(vis.find("origin"), where)
        geom = vis.find("geometry")
        shape = geom[0] if geom is not None and len(geom) else None
        if shape is None:
            continue
        if shape.tag == "box":
            size: tuple[float, ...] = _vec3(shape.get("size"), f"{where} <box size>")
        elif shape.tag == "cylinder":
            size = (_number(shape.get("radius", "0"), f"{where} <cylinder radius>"),
                    _number(shape.get("length", "0"), f"{where} <cylinder length>"))
        elif shape.tag == "sphere":
            size = (_number(shape.get("radius", "0"), f"{where} <sphere radius>"),)
        else:
            continue  # meshes: not drawn from primitives
        out.append(Visual(lname, shape.tag, size, xyz, rpy))
    return out


def parse_urdf(text: str, *, source: str = "URDF", require_links: bool = True) -> RobotDescription:
    """Parse and validate a URDF.

    Every moving joint needs a complete, finite, ordered ``<limit>``. With ``require_links`` (the default) joints
    must name declared links, each link has at most one parent and there is no loop; the single root is checked
    by ``RobotDescription.root_link`` when asked. ``require_links=False`` reads joints alone (limit tables).
    """
    try:
        root = ET.fromstring(text)  # noqa: S314 - the robot's own model file, chosen by the operator
    except ET.ParseError as exc:
        raise UrdfError(f"{source} is not valid XML: {exc}") from exc
    if root.tag != "robot":
        raise UrdfError(f"{source}: root element is <{root.tag}>, expected <robot>")
    masses: dict[str, float] = {}
    visuals: list[Visual] = []
    for link in root.findall("link"):
        lname = link.get("name")
        if not lname:
            raise UrdfError(f"{source}: <link> without a name")
        where = f"{source}: link {lname!r}"
        mass_el = link.find("inertial/mass")
        masses[lname] = _number(mass_el.get("value", ""), f"{where} <mass value>") if mass_el is not None else 0.0
        visuals.extend(_visuals(link, lname, where))
    gears: dict[str, float] = {}
    for tr in root.findall("transmission"):
        jel, red = tr.find("joint"), tr.find("actuator/mechanicalReduction")
        if jel is not None and red is not None:
            gears[jel.get("name", "")] = _number(red.text or "", f"{source}: transmission {tr.get('name')!r} "
                                                                 "<mechanicalReduction>")
    joints: list[Joint] = []
    parent_of: dict[str, str] = {}
    for jel in root.findall("joint"):
        kind = jel.get("type", "")
        name = jel.get("name")
        if not name:
            raise UrdfError(f"{source}: a {kind or 'untyped'} joint has no name")
        where = f"{source}: joint {name!r}"
        if kind not in JOINT_TYPES:
            raise UrdfError(f"{where}: type {kind!r} is not one of {', '.join(JOINT_TYPES)}")
        parent_el, child_el = jel.find("parent"), jel.find("child")
        parent = parent_el.get("link", "") if parent_el is not None else ""
        child = child_el.get("link", "") if child_el is not None else ""
        if require_links:
            if not parent or not child:
                raise UrdfError(f"{where} needs <parent link> and <child link>")
            for link_name in (parent, child):
                if link_name not in masses:
                    raise UrdfError(f"{where} refers to unknown link {link_name!r}")
            if child in parent_of:
                raise UrdfError(f"{where}: link {child!r} already has parent {parent_of[child]!r} (not a tree)")
            parent_of[child] = parent
        xyz, rpy = _origin(jel.find("origin"), where)
        axis_el = jel.find("axis")
        axis = _vec3(axis_el.get("xyz") if axis_el is not None else None, f"{where} <axis xyz>", (1.0, 0.0, 0.0))
        limit = _limit(jel, name, kind, where) if kind in MOVING else None
        joints.append(Joint(name, kind, parent, child, xyz, rpy, axis, limit))
    for start in masses:
        seen, cur = set(), start
        while cur in parent_of:
            if cur in seen:
                raise UrdfError(f"{source}: link {start!r} is in a kinematic loop")
            seen.add(cur)
            cur = parent_of[cur]
    return RobotDescription(source, root.get("name", "robot"), text, tuple(masses), masses, tuple(joints), gears,
                            tuple(visuals))


def load_urdf(path: str | Path, *, parameter: str = "urdf_path", require_links: bool = True) -> RobotDescription:
    """Read and parse a URDF file; errors name the parameter (when unreadable) or the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise UrdfError(f"{parameter}: cannot read {p}: {exc.strerror}") from exc
    return parse_urdf(text, source=str(p), require_links=require_links)
