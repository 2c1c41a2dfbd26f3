"""Joint limits from a URDF (``<joint><limit lower upper velocity effort/></joint>``), parsed with xml.etree."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sigma_safety.core.params import ConfigError

_MOVING = ("revolute", "prismatic", "continuous")


@dataclass(frozen=True)
class JointLimit:
    """Position range [rad or m], peak velocity [rad/s or m/s] and peak effort [N·m or N] of one joint."""

    name: str
    lower: float
    upper: float
    velocity: float
    effort: float


def parse_joint_limits(text: str, *, where: str = "URDF") -> dict[str, JointLimit]:
    """Limits of every moving joint; a joint without a complete, finite, ordered ``<limit>`` is refused."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - the robot's own model file, not untrusted network input
    except ET.ParseError as exc:
        raise ConfigError(f"{where}: not valid XML ({exc})") from exc
    limits: dict[str, JointLimit] = {}
    for joint in root.iter("joint"):
        name = joint.get("name")
        kind = joint.get("type")
        if kind not in _MOVING:
            continue
        if not name:
            raise ConfigError(f"{where}: a {kind} joint has no name")
        limit = joint.find("limit")
        if limit is None:
            raise ConfigError(f"{where}: joint {name!r} has no <limit>")
        values = {}
        required = ("velocity", "effort") if kind == "continuous" else ("lower", "upper", "velocity", "effort")
        for attr in ("lower", "upper", "velocity", "effort"):
            raw = limit.get(attr)
            if raw is None:
                if attr in required:
                    raise ConfigError(f"{where}: joint {name!r} <limit> lacks {attr!r}")
                values[attr] = -math.pi if attr == "lower" else math.pi
                continue
            try:
                values[attr] = float(raw)
            except ValueError as exc:
                raise ConfigError(f"{where}: joint {name!r} <limit {attr}={raw!r}> is not a number") from exc
            if not math.isfinite(values[attr]):
                raise ConfigError(f"{where}: joint {name!r} <limit {attr}> is not finite")
        if kind == "continuous" and limit.get("lower") is None:
            values["lower"], values["upper"] = -math.inf, math.inf
        if values["lower"] > values["upper"]:
            raise ConfigError(f"{where}: joint {name!r} has lower {values['lower']} > upper {values['upper']}")
        if values["velocity"] <= 0.0 or values["effort"] <= 0.0:
            raise ConfigError(f"{where}: joint {name!r} needs positive velocity and effort limits")
        limits[name] = JointLimit(name, values["lower"], values["upper"], values["velocity"], values["effort"])
    if not limits:
        raise ConfigError(f"{where}: no moving joint with <limit> found")
    return limits


def load_joint_limits(path: str | Path) -> dict[str, JointLimit]:
    """Read and parse a URDF file; errors name the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"urdf_path: cannot read {p}: {exc.strerror}") from exc
    return parse_joint_limits(text, where=str(p))
