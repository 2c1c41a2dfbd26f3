"""Declared ROS parameters of the safety nodes and their validation into typed settings.

Every rule parameter is declared from its dataclass (description with unit, range, read-only at runtime: a safety
configuration changes by restarting with a reviewed file, never live). Bad values refuse the start with the name of
the parameter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from sigma_description import humanoid_urdf
from sigma_ros_common import ros_params
from sigma_ros_common.share import share_file
from sigma_safety.core.gate import GateParams
from sigma_safety.core.params import ConfigError, ParamSpec, build
from sigma_safety.core.policy import SECTIONS, SafetyConfig, config_from_flat
from sigma_safety.core.rules.geofence import Site, load_site
from sigma_safety.core.urdf import JointLimit, load_joint_limits

TOKEN_ENV = "SIGMA_SAFETY_RESET_TOKEN"  # noqa: S105 - the variable name, not a secret


def _descriptor(spec: ParamSpec, default: Any) -> ParameterDescriptor:
    return ros_params.descriptor(spec, default, read_only=True)


def declare_section(node: Node, section: str, cls: type) -> dict[str, Any]:
    """Declare ``section.name`` for every parameter of ``cls``; return the values (without prefix)."""
    return ros_params.declare_section(node, cls, section, read_only=True)


def _declare(node: Node, name: str, default: Any, desc: ParameterDescriptor) -> Any:
    return ros_params.declare(node, name, default, desc)


def default_urdf() -> Path:
    """The humanoid URDF installed by sigma_description (ConfigError naming what is missing)."""
    return humanoid_urdf()


def load_geofence(file: str, site: str) -> Site | None:
    """The configured site's polygons (None when ``site`` is empty)."""
    if not site:
        return None
    path = Path(file) if file else share_file("sigma_safety", "config", "geofence.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"geofence.file: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"geofence.file: {path} is not valid YAML: {exc}") from exc
    return load_site(data or {}, site, where=f"geofence.file {path}")


def load_secret(token_file: str) -> bytes | None:
    """The reset token from ``reset_token_file`` or the environment; None if neither is set."""
    if token_file:
        try:
            secret = Path(token_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"reset_token_file: cannot read {token_file}: {exc.strerror}") from exc
        if not secret:
            raise ConfigError(f"reset_token_file: {token_file} is empty")
        return secret
    env = os.environ.get(TOKEN_ENV, "").strip()
    return env.encode("utf-8") if env else None


@dataclass(frozen=True)
class SupervisorSettings:
    """Everything the supervisor needs, validated."""

    config: SafetyConfig
    limits: dict[str, JointLimit]
    site: Site | None
    secret: bytes | None
    status_rate: float
    latch_file: Path | None


def _plain(node: Node, name: str, default: Any, description: str, low: float | None = None,
           high: float | None = None) -> Any:
    spec = ParamSpec("", low, high, description)
    desc = _descriptor(spec, default)
    desc.description = description
    desc.dynamic_typing = True
    return _declare(node, name, default, desc)


def urdf_limits(node: Node) -> dict[str, JointLimit]:
    """Declare ``urdf_path`` and load the joint limits."""
    path = _plain(node, "urdf_path", "", "URDF with <limit> per joint; empty = sigma_description's humanoid")
    if not isinstance(path, str):
        raise ConfigError(f"parameter urdf_path: expected a path string, got {path!r}")
    return load_joint_limits(path or default_urdf())


def supervisor_settings(node: Node) -> SupervisorSettings:
    """Declare and validate the supervisor's parameters (raises ConfigError naming the bad one)."""
    flat = {f"{s}.{k}": v for s, cls in SECTIONS.items() for k, v in declare_section(node, s, cls).items()}
    rate = _plain(node, "status_rate", 20.0, "safety/status publication rate [Hz] (>= 10)", 10.0, 1000.0)
    token_file = _plain(node, "reset_token_file", "", f"file holding the reset token; empty = ${TOKEN_ENV}")
    latch = _plain(node, "latch_file", "", "JSON file keeping latched faults across restarts; empty = not kept")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 10.0 <= rate <= 1000.0:
        raise ConfigError(f"parameter status_rate={rate!r} must be a number in [10, 1000] Hz")
    for name, value in (("reset_token_file", token_file), ("latch_file", latch)):
        if not isinstance(value, str):
            raise ConfigError(f"parameter {name}: expected a path string, got {value!r}")
    config = config_from_flat(flat)
    limits = urdf_limits(node)
    site = load_geofence(config.geofence.file, config.geofence.site)
    return SupervisorSettings(config, limits, site, load_secret(token_file), float(rate),
                              Path(latch) if latch else None)


@dataclass(frozen=True)
class ProcessSettings:
    """How the safety process asks the OS to treat it (applied where allowed, else a logged warning)."""

    realtime_priority: int
    lock_memory: bool


def process_settings(node: Node) -> ProcessSettings:
    """Declare and validate ``realtime_priority`` and ``lock_memory`` (on one node of the process)."""
    prio = _plain(node, "realtime_priority", 40, "SCHED_FIFO priority of every thread of the process; 0 = normal "
                  "scheduling (refused by the OS without CAP_SYS_NICE: then a warning)", 0, 99)
    lock = _plain(node, "lock_memory", True, "mlockall the process memory (refused without CAP_IPC_LOCK: then a "
                  "warning)")
    if isinstance(prio, bool) or not isinstance(prio, int) or not 0 <= prio <= 99:
        raise ConfigError(f"parameter realtime_priority={prio!r} must be an integer in [0, 99]")
    if not isinstance(lock, bool):
        raise ConfigError(f"parameter lock_memory={lock!r} must be true or false")
    return ProcessSettings(prio, lock)


def gate_settings(node: Node) -> tuple[GateParams, dict[str, JointLimit]]:
    """Declare and validate the gate's parameters."""
    params = build(GateParams, declare_section(node, "gate", GateParams), "gate")
    return params, urdf_limits(node)
