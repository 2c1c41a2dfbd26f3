"""Declare a parameter dataclass (``params``) on an rclpy node: one descriptor per field (description with unit,
range, choices), read back and validated into the frozen dataclass. Bad values refuse the start naming the
parameter (ConfigError); nothing here is specific to one package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node

from sigma_ros_common.params import ConfigError, ParamSpec, build, full_name, specs

T = TypeVar("T")


def descriptor(spec: ParamSpec, default: Any, *, read_only: bool = True) -> ParameterDescriptor:
    """The ROS descriptor of one declared parameter.

    Typing is dynamic so that a value of the wrong type reaches ``build``'s message naming the parameter instead of
    an rclpy exception; ranges are still enforced by rclpy when both ends are given.
    """
    text = spec.description
    if spec.unit:
        text += f" [{spec.unit}]"
    if spec.choices is not None:
        text += f" (one of {', '.join(spec.choices)})"
    d = ParameterDescriptor(description=text, read_only=read_only, dynamic_typing=True)
    if isinstance(default, float) and spec.low is not None and spec.high is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif isinstance(default, int) and not isinstance(default, bool) and spec.low is not None and spec.high is not None:
        d.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return d


def declare(node: Node, name: str, default: Any, desc: ParameterDescriptor) -> Any:
    """Declare one parameter and return its value (overrides from the command line or a parameter file win)."""
    ros_default = list(default) if isinstance(default, tuple) else default
    try:
        return node.declare_parameter(name, ros_default, desc).value
    except InvalidParameterValueException as exc:
        raise ConfigError(f"parameter {name}: {exc}") from exc


def declare_section(node: Node, cls: type, prefix: str = "", *, read_only: bool = True,
                    defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Declare ``prefix.name`` for every parameter of ``cls``; return the values keyed without prefix.

    ``defaults`` (keys without prefix) replace the dataclass defaults, e.g. with values computed at start.
    """
    values = {}
    for name, default, spec in specs(cls):
        initial = defaults.get(name, default) if defaults else default
        values[name] = declare(node, full_name(prefix, name), initial, descriptor(spec, default, read_only=read_only))
    return values


def load(node: Node, cls: type[T], prefix: str = "", *, read_only: bool = True,
         defaults: Mapping[str, Any] | None = None) -> T:
    """Declare the parameters of ``cls`` and return them validated as an instance of ``cls``."""
    return build(cls, declare_section(node, cls, prefix, read_only=read_only, defaults=defaults), prefix)


def declare_plain(node: Node, name: str, default: Any, description: str, *, unit: str = "",
                  low: float | None = None, high: float | None = None, read_only: bool = True) -> Any:
    """Declare one parameter outside a dataclass (same descriptor scheme); the caller validates the value."""
    return declare(node, name, default, descriptor(ParamSpec(unit, low, high, description), default,
                                                   read_only=read_only))
