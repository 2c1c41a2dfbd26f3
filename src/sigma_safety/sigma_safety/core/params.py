"""Declared rule parameters: each rule's parameters are a frozen dataclass whose fields carry unit, range and text.

The scheme itself is sigma_ros_common's (``sigma_ros_common.params``, pure, no rclpy), shared by every package: the
same declarations drive the ROS parameter descriptors, validation and the documentation table, so a parameter
cannot exist in one place and not the others. Defaults live in ``config/safety.yaml`` of this package; the dataclass
defaults equal them (a unit test checks it).
"""

from __future__ import annotations

from sigma_ros_common.params import ConfigError, ParamSpec, build, param, require, specs

__all__ = ["ConfigError", "ParamSpec", "build", "param", "require", "specs"]
