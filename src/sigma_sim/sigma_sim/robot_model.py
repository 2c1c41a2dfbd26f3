"""Robot description: the URDF's joints and limits, and per-actuator parameters, validated at load time.

The URDF is read by sigma_description's one reader; errors name the file and the element (``x.urdf: joint 'knee'
<limit> lacks 'effort'``) so a malformed model fails at start-up with a message that says where to look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sigma_description import urdf

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


def load_urdf(path: str | Path) -> RobotDescription:
    """Read the URDF with sigma_description's reader; the simulator drives revolute and prismatic joints only."""
    path = Path(path)
    try:
        robot = urdf.load_urdf(path, parameter="urdf")
        root_link = robot.root_link
    except urdf.UrdfError as exc:
        raise ModelError(str(exc)) from exc
    joints = []
    for j in robot.joints:
        where = f"{path}: joint {j.name!r}"
        if j.type in ("revolute", "prismatic") and j.limit is not None:
            if not j.limit.lower < j.limit.upper:
                raise ModelError(f"{where} <limit>: need lower < upper")
            joints.append(JointSpec(j.name, j.limit.lower, j.limit.upper, j.limit.velocity, j.limit.effort,
                                    robot.gear(j.name)))
        elif j.type != "fixed":
            raise ModelError(f"{where}: joint type {j.type!r} not supported (revolute, prismatic, fixed)")
    return RobotDescription(path, robot.name, robot.xml, root_link, tuple(joints), dict(robot.link_masses))


@dataclass(frozen=True)
class ActuatorTable:
    """Per-joint actuator parameters as arrays aligned with the robot's joint order."""

    classes: tuple[str, ...]
    values: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]


def load_actuators(path: str | Path, joints: list[str]) -> ActuatorTable:
    """Read sigma_sim's config/actuators.yaml: actuator classes and a first-match joint-name rule list."""
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
