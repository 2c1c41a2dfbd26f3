"""The sim node's parameters: declared with descriptors and ranges, validated into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

TOPIC_RATES = ("joint_states", "imu", "odom", "actuator_health", "battery_state", "humans")


def share_dir() -> Path:
    """Where the package's model, world and config files are installed (falls back to the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("sigma_sim"))
    except Exception:  # noqa: BLE001 - not installed: run from the source tree
        return Path(os.environ.get("SIGMA_ROOT", Path(__file__).resolve().parents[3]))


@dataclass(frozen=True)
class NodeParams:
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


def _float(lo: float, hi: float, text: str) -> ParameterDescriptor:
    return ParameterDescriptor(
        description=text, floating_point_range=[FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]
    )


def declare(node: Node) -> NodeParams:
    """Declare all parameters (defaults match config/sigma_sim/sim.yaml) and return them validated."""
    share = share_dir()
    d = node.declare_parameter
    d("robots", ["r1"], ParameterDescriptor(description="robot ids; each gets the namespace /<id>"))
    d("world", str(share / "worlds" / "warehouse.yaml"), ParameterDescriptor(description="world YAML file"))
    d("urdf", str(share / "urdf" / "sigma_humanoid.urdf"), ParameterDescriptor(description="robot URDF file"))
    d("actuators", str(share / "config" / "sigma_sim" / "actuators.yaml"),
      ParameterDescriptor(description="actuator parameter YAML file"))
    d("physics_rate", 500.0, _float(100.0, 5000.0, "physics steps per simulated second [Hz]"))
    d("realtime", True, ParameterDescriptor(description="pace to the wall clock; false = as fast as possible + /clock"))
    d("seed", 0, ParameterDescriptor(description="random seed (noise, walkers)",
                                     integer_range=[IntegerRange(from_value=0, to_value=2**31 - 1, step=1)]))
    d("base_mode", "planar", ParameterDescriptor(description="planar (actuated base, legs hold posture) or free"))
    for topic in TOPIC_RATES:
        default = {"joint_states": 100.0, "imu": 100.0, "odom": 50.0, "actuator_health": 10.0,
                   "battery_state": 1.0, "humans": 10.0}[topic]
        d(f"rates.{topic}", default, _float(0.1, 1000.0, f"{topic} publishing rate [Hz of simulated time]"))
    d("human_sensor_range", 8.0, _float(0.5, 50.0, "human detector range [m]"))
    d("human_sensor_fov", 2.4, _float(0.1, 6.2832, "human detector horizontal field of view [rad]"))
    d("max_catch_up_steps", 50, ParameterDescriptor(
        description="realtime: most physics steps per tick before the sim gives up catching up",
        integer_range=[IntegerRange(from_value=1, to_value=10000, step=1)]))

    def get(name: str):
        return node.get_parameter(name).value

    robots = [str(r) for r in get("robots")]
    for rid in robots:
        if not rid or not rid.replace("_", "").isalnum() or rid[0].isdigit():
            raise ValueError(f"parameter robots: {rid!r} is not a valid ROS namespace name")
    if len(set(robots)) != len(robots) or not robots:
        raise ValueError(f"parameter robots: need unique, non-empty ids, got {robots}")
    mode = str(get("base_mode"))
    if mode not in ("planar", "free"):
        raise ValueError(f"parameter base_mode: {mode!r} is not planar or free")
    rates = {t: float(get(f"rates.{t}")) for t in TOPIC_RATES}
    return NodeParams(
        robots=robots,
        world=Path(get("world")),
        urdf=Path(get("urdf")),
        actuators=Path(get("actuators")),
        physics_rate=float(get("physics_rate")),
        realtime=bool(get("realtime")),
        seed=int(get("seed")),
        base_mode=mode,
        rates=rates,
        human_sensor_range=float(get("human_sensor_range")),
        human_sensor_fov=float(get("human_sensor_fov")),
        max_catch_up_steps=int(get("max_catch_up_steps")),
    )


__all__ = ["TOPIC_RATES", "NodeParams", "declare", "share_dir"]
