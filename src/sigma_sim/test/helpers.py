"""Shared paths and constructors for the sigma_sim tests."""

from __future__ import annotations

from pathlib import Path

from sigma_description import humanoid_urdf
from sigma_ros_common.share import package_share
from sigma_sim.robot_model import load_actuators, load_urdf
from sigma_sim.simulation import SimConfig, Simulation
from sigma_sim.world import load_world

SHARE = package_share("sigma_sim")
URDF = humanoid_urdf()
WORLD = SHARE / "worlds" / "warehouse.yaml"
ACTUATORS = SHARE / "config" / "actuators.yaml"
CONTRACT_JOINTS = [
    *(f"{s}_{j}" for s in ("left", "right") for j in ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch",
                                                        "ankle_roll")),
    "waist_yaw", "neck_yaw", "neck_pitch",
    *(f"{s}_{j}" for s in ("left", "right") for j in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow")),
]


def make_sim(robots: list[str] | None = None, **cfg) -> Simulation:
    robot = load_urdf(URDF)
    return Simulation(load_world(WORLD), robot, load_actuators(ACTUATORS, robot.joint_names), robots or ["r1"],
                      SimConfig(**cfg))


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path
