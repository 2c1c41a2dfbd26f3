"""state_publisher parameters: declared with descriptors (defaults in config/sigma_state_publisher/), read-only,
validated into one frozen object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.node import Node

DEFAULTS = {
    "robot_id": "",
    "urdf_path": "urdf/sigma_humanoid.urdf",
    "publish_frequency": 20.0,
    "publish_odom_tf": True,
    "tf_topic": "/tf",
    "tf_static_topic": "/tf_static",
}
DESCRIPTIONS = {
    "robot_id": "robot id: tf frames are '<robot_id>/<link>'; empty = the node namespace",
    "urdf_path": "robot URDF: absolute, relative to the working directory, or to $SIGMA_ROOT",
    "publish_frequency": "most /tf messages per second [Hz] (robot_state_publisher's publish_frequency)",
    "publish_odom_tf": "publish odom -> <robot_id>/base_link from the odom topic",
    "tf_topic": "topic of the dynamic transforms ('/tf' shared with frame prefixes, or 'tf' per namespace)",
    "tf_static_topic": "topic of the fixed-joint transforms (latched)",
}


@dataclass(frozen=True)
class StatePublisherParams:
    robot_id: str
    urdf_path: Path
    publish_frequency: float
    publish_odom_tf: bool
    tf_topic: str
    tf_static_topic: str


def resolve(path: str) -> Path:
    """A file path as given, else relative to $SIGMA_ROOT (how the launch files name repository files)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    root = os.environ.get("SIGMA_ROOT")
    return Path(root) / p if root else p


def declare(node: Node) -> StatePublisherParams:
    """Declare every parameter with its descriptor and return the validated values."""
    for name, default in DEFAULTS.items():
        desc = ParameterDescriptor(description=DESCRIPTIONS[name], read_only=True)
        if name == "publish_frequency":
            desc.floating_point_range = [FloatingPointRange(from_value=0.1, to_value=1000.0)]
        node.declare_parameter(name, default, desc)
    v = {name: node.get_parameter(name).value for name in DEFAULTS}
    for topic in ("tf_topic", "tf_static_topic"):
        if not str(v[topic]).strip():
            raise ValueError(f"parameter {topic} must name a topic")
    return StatePublisherParams(
        robot_id=str(v["robot_id"]),
        urdf_path=resolve(str(v["urdf_path"])),
        publish_frequency=float(v["publish_frequency"]),
        publish_odom_tf=bool(v["publish_odom_tf"]),
        tf_topic=str(v["tf_topic"]),
        tf_static_topic=str(v["tf_static_topic"]),
    )
