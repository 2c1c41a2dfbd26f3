"""Declared parameters: a frozen dataclass per node or section whose fields carry unit, range, choices and text.

The same declarations drive the ROS parameter descriptors (``ros_params``), validation (``build``) and the
documentation table (``doc_table``), so a parameter cannot exist in one place and not the others. Pure: no rclpy,
so a core's own parameter classes use it too. Defaults live in the package's ``config/*.yaml``; the dataclass
defaults equal them (each package has a unit test for it, see ``read_ros_parameters``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A parameter or configuration file is missing, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class ParamSpec:
    """Unit, inclusive range, allowed values and description of one parameter."""

    unit: str
    low: float | None
    high: float | None
    description: str
    choices: tuple[str, ...] | None = None


def param(default: Any, *, unit: str = "", low: float | None = None, high: float | None = None, description: str,
          choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field declaring one parameter (use a tuple, never a list, for a list-valued default)."""
    if isinstance(default, list):
        raise TypeError("a list-valued parameter default must be a tuple (frozen dataclasses hold immutable values)")
    return dataclasses.field(default=default, metadata={"spec": ParamSpec(unit, low, high, description, choices)})


def specs(cls: type) -> list[tuple[str, Any, ParamSpec]]:
    """(name, default, spec) of every declared parameter of a params dataclass, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is not None:
            out.append((f.name, f.default, spec))
    return out


def full_name(prefix: str, name: str) -> str:
    """``prefix.name``, or ``name`` without a prefix."""
    return f"{prefix}.{name}" if prefix else name


def coerce(name: str, default: Any, value: Any) -> Any:
    """``value`` converted to the type of ``default`` (int -> float allowed), or ConfigError naming ``name``."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"parameter {name}: expected true/false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"parameter {name}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"parameter {name}: must be finite, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"parameter {name}: expected an integer, got {value!r}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"parameter {name}: expected a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"parameter {name}: expected a list of strings, got {value!r}")
        return tuple(value)
    raise ConfigError(f"parameter {name}: unsupported type {type(default).__name__}")


def check(name: str, spec: ParamSpec, value: Any) -> None:
    """Range and choice checks of one coerced value (ConfigError names the parameter, the limit and the unit)."""
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"parameter {name}={value!r} is not one of {', '.join(spec.choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.low is not None and value < spec.low:
            raise ConfigError(f"parameter {name}={value} is below its minimum {spec.low} {spec.unit}".rstrip())
        if spec.high is not None and value > spec.high:
            raise ConfigError(f"parameter {name}={value} is above its maximum {spec.high} {spec.unit}".rstrip())


def build(cls: type[T], values: Mapping[str, Any], prefix: str = "") -> T:
    """Instantiate ``cls`` from ``values`` (keys without prefix); unknown keys, wrong types and ranges are refused.

    Missing keys take the dataclass default; cross-parameter checks belong in the class's ``__post_init__``
    (use ``require``), and their ConfigError is prefixed with the section.
    """
    declared = {name: (default, spec) for name, default, spec in specs(cls)}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(full_name(prefix, u) for u in unknown)}")
    kwargs = {}
    for name, value in values.items():
        default, spec = declared[name]
        full = full_name(prefix, name)
        value = coerce(full, default, value)
        check(full, spec, value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}: {exc}" if prefix else str(exc)) from exc


def require(condition: bool, message: str) -> None:
    """Cross-parameter check for ``__post_init__``."""
    if not condition:
        raise ConfigError(message)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameter mappings flattened to dotted names (``{"rates": {"imu": 50}}`` -> ``{"rates.imu": 50}``)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = full_name(prefix, str(key))
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def read_ros_parameters(path: str | Path, node: str = "/**") -> dict[str, Any]:
    """The flattened ``<node>: ros__parameters`` of a ROS 2 parameter file; ConfigError names the file and key."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    try:
        params = doc[node]["ros__parameters"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: no {node}: ros__parameters mapping") from exc
    if not isinstance(params, Mapping):
        raise ConfigError(f"{p}: {node}: ros__parameters is not a mapping")
    return flatten(params)


def defaults(cls: type, prefix: str = "") -> dict[str, Any]:
    """The dataclass defaults as a flat ``{full name: default}`` mapping (for the config-file equality test)."""
    return {full_name(prefix, name): default for name, default, _ in specs(cls)}


def doc_table(cls: type, prefix: str = "") -> str:
    """A Markdown table of the declared parameters (name, default, unit, range, description)."""
    rows = ["| parameter | default | unit | range | description |", "|---|---|---|---|---|"]
    for name, default, spec in specs(cls):
        if spec.choices is not None:
            allowed = " / ".join(spec.choices)
        elif spec.low is None and spec.high is None:
            allowed = ""
        else:
            allowed = f"[{'' if spec.low is None else spec.low}, {'' if spec.high is None else spec.high}]"
        rows.append(f"| `{full_name(prefix, name)}` | `{default!r}` | {spec.unit} | {allowed} | {spec.description} |")
    return "\n".join(rows)
