"""The sim node's parameters: declared with descriptors and ranges, validated into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
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


def load_defaults(path: Path) -> dict[str, object]:
    """The ``sigma_sim.ros__parameters`` of a sim.yaml, nested keys flattened with dots (``rates.imu``)."""
    try:
        doc = yaml.safe_load(path.read_text())
        params = doc["sigma_sim"]["ros__parameters"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: cannot read sigma_sim.ros__parameters: {exc}") from exc
    flat: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        else:
            flat[prefix[:-1]] = value

    walk("", params)
    return flat


def _resolve(raw: str, share: Path) -> Path:
    """A file parameter: absolute, relative to the working directory, or relative to the installed share dir."""
    path = Path(raw)
    return path if path.is_absolute() or path.exists() else share / path


def declare(node: Node) -> NodeParams:
    """Declare all parameters with defaults from the installed config/sigma_sim/sim.yaml; return them validated."""
    share = share_dir()
    defaults = {
        "world": "worlds/warehouse.yaml",
        "urdf": "urdf/sigma_humanoid.urdf",
        "actuators": "config/sigma_sim/actuators.yaml",
        **load_defaults(share / "config" / "sigma_sim" / "sim.yaml"),
    }

    def d(name: str, descriptor: ParameterDescriptor) -> None:
        if name not in defaults:
            raise ValueError(f"{share}/config/sigma_sim/sim.yaml: no default for parameter {name!r}")
        node.declare_parameter(name, defaults[name], descriptor)

    d("robots", ParameterDescriptor(description="robot ids; each gets the namespace /<id>"))
    d("world", ParameterDescriptor(description="world YAML file (absolute, or relative to cwd or share/sigma_sim)"))
    d("urdf", ParameterDescriptor(description="robot URDF file"))
    d("actuators", ParameterDescriptor(description="actuator parameter YAML file"))
    d("physics_rate", _float(500.0, 5000.0, "physics steps per simulated second [Hz], at least 500"))
    d("realtime", ParameterDescriptor(description="pace to the wall clock; false = as fast as possible + /clock"))
    d("seed", ParameterDescriptor(description="random seed (noise, walkers)",
                                  integer_range=[IntegerRange(from_value=0, to_value=2**31 - 1, step=1)]))
    d("base_mode", ParameterDescriptor(description="planar (actuated base, legs hold posture) or free"))
    for topic in TOPIC_RATES:
        d(f"rates.{topic}", _float(0.1, 1000.0, f"{topic} publishing rate [Hz of simulated time]"))
    d("human_sensor_range", _float(0.5, 50.0, "human detector range [m]"))
    d("human_sensor_fov", _float(0.1, 6.2832, "human detector horizontal field of view [rad]"))
    d("max_catch_up_steps", ParameterDescriptor(
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
        world=_resolve(get("world"), share),
        urdf=_resolve(get("urdf"), share),
        actuators=_resolve(get("actuators"), share),
        physics_rate=float(get("physics_rate")),
        realtime=bool(get("realtime")),
        seed=int(get("seed")),
        base_mode=mode,
        rates=rates,
        human_sensor_range=float(get("human_sensor_range")),
        human_sensor_fov=float(get("human_sensor_fov")),
        max_catch_up_steps=int(get("max_catch_up_steps")),
    )


__all__ = ["TOPIC_RATES", "NodeParams", "declare", "load_defaults", "share_dir"]
