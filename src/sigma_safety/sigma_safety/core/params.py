"""Declared rule parameters: each rule's parameters are a frozen dataclass whose fields carry unit, range and text.

The same declarations drive the ROS parameter descriptors, validation and the documentation table, so a
parameter cannot exist in one place and not the others. Defaults live in ``config/sigma_safety/safety.yaml``;
the dataclass defaults equal them (a unit test checks it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A parameter is missing, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class ParamSpec:
    """Unit, inclusive range and description of one parameter."""

    unit: str
    low: float | None
    high: float | None
    description: str


def param(default: Any, *, unit: str, low: float | None = None, high: float | None = None, description: str) -> Any:
    """A dataclass field declaring one rule parameter."""
    return dataclasses.field(default=default, metadata={"spec": ParamSpec(unit, low, high, description)})


def specs(cls: type) -> list[tuple[str, Any, ParamSpec]]:
    """(name, default, spec) of every declared parameter of a params dataclass."""
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is not None:
            out.append((f.name, f.default, spec))
    return out


def _coerce(name: str, default: Any, value: Any) -> Any:
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
    raise ConfigError(f"parameter {name}: unsupported type {type(default).__name__}")


def build(cls: type[T], values: Mapping[str, Any], prefix: str) -> T:
    """Instantiate ``cls`` from ``values`` (keys without prefix); unknown keys, wrong types and ranges are refused."""
    declared = {name: (default, spec) for name, default, spec in specs(cls)}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(prefix + '.' + u for u in unknown)}")
    kwargs = {}
    for name, value in values.items():
        default, spec = declared[name]
        full = f"{prefix}.{name}"
        value = _coerce(full, default, value)
        if spec.low is not None and value < spec.low:
            raise ConfigError(f"parameter {full}={value} is below its minimum {spec.low} {spec.unit}")
        if spec.high is not None and value > spec.high:
            raise ConfigError(f"parameter {full}={value} is above its maximum {spec.high} {spec.unit}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}: {exc}") from exc


def require(condition: bool, message: str) -> None:
    """Cross-parameter check for ``__post_init__``."""
    if not condition:
        raise ConfigError(message)
