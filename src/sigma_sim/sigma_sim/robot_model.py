"""Robot description: the URDF's joints and limits, and per-actuator parameters, validated at load time.

Errors name the file and the element (``urdf/x.urdf: <joint name="knee">: ...``) so a malformed model fails at
start-up with a message that says where to look.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ACTUATOR_KEYS = (
    "torque_constant", "winding_resistance", "c_winding", "c_housing", "r_winding_housing", "r_housing_ambient",
    "kp", "kd", "rotor_inertia", "max_winding_temperature",
)


class ModelError(ValueError):
    """A robot or world description that cannot be used; the message names file and element."""


@dataclass(frozen=True)
class JointSpec:
    name: str
    lower: float  # rad
    upper: float  # rad
    velocity: float  # rad/s
    effort: float  # N*m
    gear: float  # transmission reduction (motor turns per joint turn)


@dataclass(frozen=True)
class RobotDescription:
    path: Path
    name: str
    xml: str
    root_link: str
    joints: tuple[JointSpec, ...]
    link_masses: dict[str, float]

    @property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def total_mass(self) -> float:
        return sum(self.link_masses.values())


def _num(el: ET.Element, attr: str, where: str) -> float:
    raw = el.get(attr)
    if raw is None:
        raise ModelError(f"{where}: missing attribute {attr!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ModelError(f"{where}: attribute {attr}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ModelError(f"{where}: attribute {attr}={raw!r} is not finite")
    return value


def load_urdf(path: str | Path) -> RobotDescription:
    """Parse and validate a URDF: actuated joints with limits, masses, a single-rooted kinematic tree."""
    path = Path(path)
    try:
        text = path.read_text()
        root = ET.fromstring(text)  # noqa: S314 - our own model files, chosen by the operator
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc}") from exc
    except ET.ParseError as exc:
        raise ModelError(f"{path}: not well-formed XML: {exc}") from exc
    if root.tag != "robot":
        raise ModelError(f"{path}: root element is <{root.tag}>, expected <robot>")
    masses: dict[str, float] = {}
    for link in root.findall("link"):
        lname = link.get("name")
        if not lname:
            raise ModelError(f"{path}: <link> without a name")
        mass_el = link.find("inertial/mass")
        masses[lname] = _num(mass_el, "value", f'{path}: <link name="{lname}"> <mass>') if mass_el is not None else 0.0
    gears: dict[str, float] = {}
    for tr in root.findall("transmission"):
        j = tr.find("joint")
        red = tr.find("actuator/mechanicalReduction")
        if j is not None and red is not None:
            try:
                gears[j.get("name", "")] = float(red.text or "")
            except ValueError:
                raise ModelError(f'{path}: <transmission name="{tr.get("name")}">: bad mechanicalReduction') from None
    parent_of: dict[str, str] = {}
    joints: list[JointSpec] = []
    for j in root.findall("joint"):
        jname = j.get("name", "")
        where = f'{path}: <joint name="{jname}">'
        parent, child = j.find("parent"), j.find("child")
        if parent is None or child is None:
            raise ModelError(f"{where}: needs <parent> and <child>")
        p, c = parent.get("link", ""), child.get("link", "")
        for link_name in (p, c):
            if link_name not in masses:
                raise ModelError(f"{where}: refers to unknown link {link_name!r}")
        if c in parent_of:
            raise ModelError(f"{where}: link {c!r} already has parent {parent_of[c]!r} (not a tree)")
        parent_of[c] = p
        jtype = j.get("type")
        if jtype in ("revolute", "prismatic"):
            lim = j.find("limit")
            if lim is None:
                raise ModelError(f"{where}: actuated joint without <limit>")
            lo, hi = _num(lim, "lower", f"{where} <limit>"), _num(lim, "upper", f"{where} <limit>")
            vel, eff = _num(lim, "velocity", f"{where} <limit>"), _num(lim, "effort", f"{where} <limit>")
            if not lo < hi or vel <= 0 or eff <= 0:
                raise ModelError(f"{where} <limit>: need lower < upper, velocity > 0, effort > 0")
            joints.append(JointSpec(jname, lo, hi, vel, eff, gears.get(jname, 1.0)))
        elif jtype not in ("fixed",):
            raise ModelError(f"{where}: joint type {jtype!r} not supported (revolute, prismatic, fixed)")
    roots = [name for name in masses if name not in parent_of]
    if len(roots) != 1:
        raise ModelError(f"{path}: kinematic tree must have exactly one root link, found {roots}")
    # every link reaches the root without a cycle
    for name in masses:
        seen, cur = set(), name
        while cur in parent_of:
            if cur in seen:
                raise ModelError(f'{path}: <link name="{name}"> is in a kinematic loop')
            seen.add(cur)
            cur = parent_of[cur]
    return RobotDescription(path, root.get("name", path.stem), text, roots[0], tuple(joints), masses)


@dataclass(frozen=True)
class ActuatorTable:
    """Per-joint actuator parameters as arrays aligned with the robot's joint order."""

    classes: tuple[str, ...]
    values: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]


def load_actuators(path: str | Path, joints: list[str]) -> ActuatorTable:
    """Read config/sigma_sim/actuators.yaml: actuator classes and a first-match joint-name rule list."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot load: {exc}") from exc
    if not isinstance(doc, dict) or "classes" not in doc or "rules" not in doc:
        raise ModelError(f"{path}: needs top-level 'classes' and 'rules'")
    classes = doc["classes"]
    for cname, params in classes.items():
        missing = [k for k in ACTUATOR_KEYS if not isinstance(params.get(k), (int, float)) or params[k] <= 0]
        if missing:
            raise ModelError(f"{path}: classes.{cname}: missing or non-positive {missing}")
    assigned = []
    for jname in joints:
        for i, rule in enumerate(doc["rules"]):
            if not isinstance(rule, dict) or rule.get("class") not in classes:
                raise ModelError(f"{path}: rules[{i}]: needs 'match' and a known 'class'")
            if re.search(str(rule["match"]), jname):
                assigned.append(rule["class"])
                break
        else:
            raise ModelError(f"{path}: no rule matches joint {jname!r}")
    values = {k: np.array([float(classes[c][k]) for c in assigned]) for k in ACTUATOR_KEYS}
    return ActuatorTable(tuple(assigned), values)
