"""The sim node's parameters: frozen dataclasses (sigma_ros_common's scheme) whose unit, range and description drive
the ROS descriptors, validation and docs; defaults equal config/sim.yaml (a unit test checks it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rclpy.node import Node

from sigma_ros_common.params import param, require
from sigma_ros_common.ros_params import load
from sigma_ros_common.share import resolve_file

TOPIC_RATES = ("joint_states", "imu", "odom", "actuator_health", "battery_state", "humans")
_NAMESPACE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _rate(default: float, topic: str) -> float:
    return param(default, unit="Hz", low=0.1, high=1000.0, description=f"{topic} publishing rate (simulated time)")


@dataclass(frozen=True)
class SimRates:
    """Publishing rates per topic, parameters ``rates.<topic>``."""

    joint_states: float = _rate(100.0, "joint_states")
    imu: float = _rate(100.0, "imu")
    odom: float = _rate(50.0, "odom")
    actuator_health: float = _rate(10.0, "actuator_health")
    battery_state: float = _rate(1.0, "battery_state")
    humans: float = _rate(10.0, "humans")


@dataclass(frozen=True)
class SimParams:
    """Top-level parameters of sim_node. File parameters: package://<pkg>/<path>, absolute, or in share/sigma_sim."""

    robots: tuple[str, ...] = param(("r1",), description="robot ids; each gets the namespace /<id>")
    world: str = param("worlds/warehouse.yaml", unit="path", description="world YAML (zones, docks, spawns, people)")
    urdf: str = param("package://sigma_description/urdf/sigma_humanoid.urdf", unit="path",
                      description="robot URDF, copied once per robot")
    actuators: str = param("config/actuators.yaml", unit="path", description="actuator parameter YAML")
    physics_rate: float = param(500.0, unit="Hz", low=500.0, high=5000.0,
                                description="physics steps per simulated second, at least 500")
    realtime: bool = param(True, description="pace to the wall clock; false = as fast as possible + /clock")
    seed: int = param(0, low=0, high=2**31 - 1, description="random seed (noise, walkers)")
    base_mode: str = param("planar", description="planar (actuated base, legs hold posture) or free (can fall)",
                           choices=("planar", "free"))
    human_sensor_range: float = param(8.0, unit="m", low=0.5, high=50.0, description="human detector range")
    human_sensor_fov: float = param(2.4, unit="rad", low=0.1, high=6.2832,
                                    description="human detector horizontal field of view")
    max_catch_up_steps: int = param(50, low=1, high=10000,
                                    description="realtime: most physics steps per tick before dropping the backlog")
    nice: int = param(-15, low=-20, high=19,
                      description="realtime: nice value of the simulator's threads (it stands in for sensor hardware, "
                                  "whose timing never depends on the computer's load); 0 = like every other process")

    def __post_init__(self) -> None:
        for rid in self.robots:
            require(bool(_NAMESPACE.match(rid)), f"parameter robots: {rid!r} is not a valid ROS namespace name")
        require(bool(self.robots) and len(set(self.robots)) == len(self.robots),
                f"parameter robots: need unique, non-empty ids, got {list(self.robots)}")


@dataclass(frozen=True)
class NodeParams:
    """The validated parameters with file parameters resolved to existing files."""

    robots: list[str]
    world: Path
    urdf: Path
    actuators: Path
    physics_rate: float
    realtime: bool
    seed: int
    base_mode: str
    rates: dict[str, float]
    human_sensor_range: float
    human_sensor_fov: float
    max_catch_up_steps: int
    nice: int


def declare(node: Node) -> NodeParams:
    """Declare every parameter with its descriptor; return them validated (ConfigError names the parameter)."""
    p = load(node, SimParams, read_only=False)
    rates = load(node, SimRates, "rates", read_only=False)
    return NodeParams(
        robots=list(p.robots),
        world=resolve_file(p.world, "sigma_sim", "world"),
        urdf=resolve_file(p.urdf, "sigma_sim", "urdf"),
        actuators=resolve_file(p.actuators, "sigma_sim", "actuators"),
        physics_rate=p.physics_rate, realtime=p.realtime, seed=p.seed, base_mode=p.base_mode,
        rates={t: float(getattr(rates, t)) for t in TOPIC_RATES},
        human_sensor_range=p.human_sensor_range, human_sensor_fov=p.human_sensor_fov,
        max_catch_up_steps=p.max_catch_up_steps, nice=p.nice,
    )


__all__ = ["TOPIC_RATES", "NodeParams", "SimParams", "SimRates", "declare"]
