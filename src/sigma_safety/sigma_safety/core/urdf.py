"""Joint limits of the robot, read by sigma_description's one URDF reader (pure, no rclpy)."""

from __future__ import annotations

from pathlib import Path

from sigma_description.urdf import JointLimit, RobotDescription, load_urdf, parse_urdf
from sigma_safety.core.params import ConfigError

__all__ = ["JointLimit", "load_joint_limits", "parse_joint_limits"]


def _limits(robot: RobotDescription) -> dict[str, JointLimit]:
    limits = robot.joint_limits
    if not limits:
        raise ConfigError(f"{robot.source}: no moving joint with <limit> found")
    return limits


def parse_joint_limits(text: str, *, where: str = "URDF") -> dict[str, JointLimit]:
    """Limits of every moving joint; a joint without a complete, finite, ordered ``<limit>`` is refused."""
    return _limits(parse_urdf(text, source=where, require_links=False))


def load_joint_limits(path: str | Path) -> dict[str, JointLimit]:
    """Read and parse a URDF file; errors name the file (or ``urdf_path`` when it cannot be read)."""
    return _limits(load_urdf(path, parameter="urdf_path", require_links=False))
