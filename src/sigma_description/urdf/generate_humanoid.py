#!/usr/bin/env python3
"""Generate sigma_humanoid.urdf (package sigma_description): a 1.72 m, 68 kg humanoid built from primitives.

Inertias are computed from each link's primitive shape and mass (solid box / cylinder / sphere), so the URDF
carries plausible inertials rather than placeholders. Run: ``python src/sigma_description/urdf/generate_humanoid.py``
(writes the file next to this script); the generated file is committed so nothing needs to run at start-up.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

Vec = tuple[float, float, float]


@dataclass
class Shape:
    kind: str  # box | cylinder | sphere
    dims: tuple[float, ...]  # box: (x, y, z); cylinder: (radius, length) along z; sphere: (radius,)
    origin: Vec = (0.0, 0.0, 0.0)

    def inertia(self, mass: float) -> tuple[float, float, float]:
        if self.kind == "box":
            x, y, z = self.dims
            return (mass * (y * y + z * z) / 12, mass * (x * x + z * z) / 12, mass * (x * x + y * y) / 12)
        if self.kind == "cylinder":
            r, h = self.dims
            side = mass * (3 * r * r + h * h) / 12
            return (side, side, mass * r * r / 2)
        (r,) = self.dims
        i = 2 * mass * r * r / 5
        return (i, i, i)

    def geometry_xml(self) -> str:
        if self.kind == "box":
            return '<box size="{:.4f} {:.4f} {:.4f}"/>'.format(*self.dims)
        if self.kind == "cylinder":
            return '<cylinder radius="{:.4f}" length="{:.4f}"/>'.format(*self.dims)
        return f'<sphere radius="{self.dims[0]:.4f}"/>'


def _fmt(v: Vec) -> str:
    return " ".join(f"{x:.4f}" for x in v)


# name: (mass [kg], shape)
LINKS: dict[str, tuple[float, Shape]] = {
    "base_link": (9.0, Shape("box", (0.20, 0.30, 0.15))),
    "torso": (16.0, Shape("box", (0.20, 0.34, 0.38), (0.0, 0.0, 0.19))),
    "neck_link": (0.5, Shape("cylinder", (0.04, 0.05), (0.0, 0.0, 0.025))),
    "head": (4.0, Shape("sphere", (0.09,), (0.0, 0.0, 0.09))),
}
for side in ("left", "right"):
    LINKS.update(
        {
            f"{side}_hip_yaw_link": (1.0, Shape("cylinder", (0.05, 0.05), (0.0, 0.0, -0.025))),
            f"{side}_hip_roll_link": (1.0, Shape("cylinder", (0.05, 0.05), (0.0, 0.0, -0.025))),
            f"{side}_thigh": (7.0, Shape("cylinder", (0.07, 0.38), (0.0, 0.0, -0.19))),
            f"{side}_shank": (3.5, Shape("cylinder", (0.05, 0.38), (0.0, 0.0, -0.19))),
            f"{side}_ankle_link": (0.5, Shape("cylinder", (0.03, 0.04), (0.0, 0.0, -0.02))),
            f"{side}_foot": (1.2, Shape("box", (0.24, 0.10, 0.05), (0.04, 0.0, -0.035))),
            f"{side}_shoulder_pitch_link": (0.8, Shape("cylinder", (0.04, 0.06), (0.0, 0.0, 0.0))),
            f"{side}_shoulder_roll_link": (0.8, Shape("cylinder", (0.04, 0.06), (0.0, 0.0, -0.03))),
            f"{side}_upper_arm": (2.0, Shape("cylinder", (0.04, 0.26), (0.0, 0.0, -0.13))),
            f"{side}_forearm": (1.5, Shape("cylinder", (0.035, 0.30), (0.0, 0.0, -0.15))),
        }
    )

# (name, type, parent, child, origin xyz, axis, lower, upper, velocity, effort)
JOINTS: list[tuple[str, str, str, str, Vec, Vec, float, float, float, float]] = [
    ("waist_yaw", "revolute", "base_link", "torso", (0, 0, 0.075), (0, 0, 1), -1.2, 1.2, 4.0, 100.0),
    ("neck_yaw", "revolute", "torso", "neck_link", (0, 0, 0.38), (0, 0, 1), -1.3, 1.3, 5.0, 10.0),
    ("neck_pitch", "revolute", "neck_link", "head", (0, 0, 0.05), (0, 1, 0), -0.6, 0.8, 5.0, 10.0),
]
for side, sy in (("left", 1.0), ("right", -1.0)):
    out = (-0.3, 2.8) if sy > 0 else (-2.8, 0.3)  # roll away from the body is +x rotation on the left
    hip_roll = (-0.3, 0.5) if sy > 0 else (-0.5, 0.3)
    JOINTS += [
        (f"{side}_hip_yaw", "revolute", "base_link", f"{side}_hip_yaw_link", (0, 0.1 * sy, -0.075), (0, 0, 1),
         -0.6, 0.6, 8.0, 120.0),
        (f"{side}_hip_roll", "revolute", f"{side}_hip_yaw_link", f"{side}_hip_roll_link", (0, 0, -0.05), (1, 0, 0),
         *hip_roll, 8.0, 150.0),
        (f"{side}_hip_pitch", "revolute", f"{side}_hip_roll_link", f"{side}_thigh", (0, 0, -0.05), (0, 1, 0),
         -2.0, 0.6, 8.0, 150.0),
        (f"{side}_knee", "revolute", f"{side}_thigh", f"{side}_shank", (0, 0, -0.38), (0, 1, 0),
         0.0, 2.4, 10.0, 200.0),
        (f"{side}_ankle_pitch", "revolute", f"{side}_shank", f"{side}_ankle_link", (0, 0, -0.38), (0, 1, 0),
         -0.8, 0.6, 8.0, 80.0),
        (f"{side}_ankle_roll", "revolute", f"{side}_ankle_link", f"{side}_foot", (0, 0, -0.04), (1, 0, 0),
         -0.4, 0.4, 8.0, 60.0),
        (f"{side}_shoulder_pitch", "revolute", "torso", f"{side}_shoulder_pitch_link", (0, 0.21 * sy, 0.34),
         (0, 1, 0), -3.0, 1.0, 6.0, 60.0),
        (f"{side}_shoulder_roll", "revolute", f"{side}_shoulder_pitch_link", f"{side}_shoulder_roll_link",
         (0, 0, 0), (1, 0, 0), *out, 6.0, 60.0),
        (f"{side}_shoulder_yaw", "revolute", f"{side}_shoulder_roll_link", f"{side}_upper_arm", (0, 0, -0.06),
         (0, 0, 1), -1.5, 1.5, 6.0, 40.0),
        (f"{side}_elbow", "revolute", f"{side}_upper_arm", f"{side}_forearm", (0, 0, -0.26), (0, 1, 0),
         -2.5, 0.0, 6.0, 40.0),
    ]
FIXED = [("imu_joint", "base_link", "imu_link", (0.0, 0.0, 0.0))]


def link_xml(name: str, mass: float, shape: Shape) -> str:
    ixx, iyy, izz = shape.inertia(mass)
    o = _fmt(shape.origin)
    geom = shape.geometry_xml()
    return (
        f'  <link name="{name}">\n'
        f'    <inertial><origin xyz="{o}" rpy="0 0 0"/><mass value="{mass:.4f}"/>'
        f'<inertia ixx="{ixx:.6f}" ixy="0" ixz="0" iyy="{iyy:.6f}" iyz="0" izz="{izz:.6f}"/></inertial>\n'
        f'    <visual><origin xyz="{o}" rpy="0 0 0"/><geometry>{geom}</geometry>'
        f'<material name="grey"/></visual>\n'
        f'    <collision><origin xyz="{o}" rpy="0 0 0"/><geometry>{geom}</geometry></collision>\n'
        f"  </link>\n"
    )


def generate() -> str:
    parts = [
        '<?xml version="1.0"?>\n',
        "<!-- GENERATED by urdf/generate_humanoid.py: edit the generator, not this file. -->\n",
        '<robot name="sigma_humanoid">\n',
        '  <mujoco><compiler discardvisual="true" fusestatic="false" balanceinertia="true"/></mujoco>\n',
        '  <material name="grey"><color rgba="0.6 0.6 0.65 1"/></material>\n',
    ]
    for name, (mass, shape) in LINKS.items():
        parts.append(link_xml(name, mass, shape))
    parts.append(
        '  <link name="imu_link"><inertial><origin xyz="0 0 0" rpy="0 0 0"/><mass value="0.0500"/>'
        '<inertia ixx="0.000010" ixy="0" ixz="0" iyy="0.000010" iyz="0" izz="0.000010"/></inertial></link>\n'
    )
    for name, jtype, parent, child, xyz, axis, lo, hi, vel, eff in JOINTS:
        parts.append(
            f'  <joint name="{name}" type="{jtype}"><parent link="{parent}"/><child link="{child}"/>'
            f'<origin xyz="{_fmt(xyz)}" rpy="0 0 0"/><axis xyz="{_fmt(axis)}"/>'
            f'<limit lower="{lo:.4f}" upper="{hi:.4f}" velocity="{vel:.4f}" effort="{eff:.4f}"/>'
            f'<dynamics damping="0.5" friction="0.0"/></joint>\n'
        )
    for name, parent, child, xyz in FIXED:
        parts.append(
            f'  <joint name="{name}" type="fixed"><parent link="{parent}"/><child link="{child}"/>'
            f'<origin xyz="{_fmt(xyz)}" rpy="0 0 0"/></joint>\n'
        )
    for name, *_ in JOINTS:
        parts.append(
            f'  <transmission name="{name}_transmission"><type>transmission_interface/SimpleTransmission</type>'
            f'<joint name="{name}"><hardwareInterface>hardware_interface/PositionJointInterface</hardwareInterface>'
            f'</joint><actuator name="{name}_motor"><mechanicalReduction>{_gear(name):.1f}</mechanicalReduction>'
            f"</actuator></transmission>\n"
        )
    parts.append("</robot>\n")
    return "".join(parts)


def _gear(joint: str) -> float:
    """Gear ratio per joint group; must match sigma_sim's config/actuators.yaml (a test checks it)."""
    if "neck" in joint:
        return 30.0
    if "knee" in joint or "hip" in joint:
        return 15.0
    if "ankle" in joint or "waist" in joint:
        return 25.0
    return 30.0


def total_mass() -> float:
    return sum(m for m, _ in LINKS.values()) + 0.05


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sigma_humanoid.urdf")
    out.write_text(generate())
    print(f"wrote {out}: {len(JOINTS)} actuated joints, {total_mass():.2f} kg")
