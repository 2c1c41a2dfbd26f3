"""Telemetry channels: their numeric ids, the SI unit of each numeric field, and payload validation.

A payload is a flat object: the channel's numeric fields (a finite number, or a list of them, within the bounds of
its unit), `name` on the named channels, `units` (a declared non-SI unit per numeric field), and the channel's known
extra fields (EXTRAS). Nothing else is accepted: unknown keys, values out of range, over-long lists and strings are
refused at ingest, so every stored payload is small, shallow (depth <= 3) and reads back as plain JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

# Telemetry channels and the numeric fields each payload may carry, with their SI unit.
# A value is either a number or (for the list fields) a list of numbers; names are lists of strings.
CHANNELS: dict[str, dict[str, str]] = {
    "joint_states": {"position": "rad", "velocity": "rad/s", "effort": "N*m"},
    "actuator_health": {"temperature": "degC", "current": "A", "voltage": "V"},
    "battery": {"voltage": "V", "current": "A", "charge": "Ah", "capacity": "Ah", "percentage": "1",
                "temperature": "degC"},
    "imu": {"orientation": "1", "angular_velocity": "rad/s", "linear_acceleration": "m/s^2"},
    "odom": {"position": "m", "orientation": "1", "linear": "m/s", "angular": "rad/s"},
    "safety_status": {"level": "1", "authority": "1", "sequence": "1"},
    "safety_event": {"level": "1", "previous_level": "1", "authority": "1", "previous_authority": "1",
                     "sequence": "1"},
    # sigma_interfaces/TaskStatus (tasks/status): a robot's progress on a fleet task (docs/tasks.md)
    "task_status": {"state": "1", "progress": "1", "distance_remaining": "m", "kind": "1"},
    # sigma_interfaces/TwinHealth (twin/health): one entry per component (actuators, then "battery"); remaining life
    # and maintenance windows in hours from the event's ts; RUL_UNKNOWN / RUL_BEYOND_H / NO_WINDOW (docs/twin.md)
    "twin_health": {"health": "1", "confidence": "1", "risk": "1", "rul_q05": "h", "rul_q50": "h", "rul_q95": "h",
                    "window_opens": "h", "window_closes": "h", "risk_horizon": "h"},
    # sigma_interfaces/DetectedHumans (humans): the people the robot's perception sees, one entry per person (`name` =
    # tracker id, "" when untracked), positions and velocities in the robot base frame (x forward, y left); the
    # console draws them on the site map with the robot's pose (docs/console.md)
    "humans": {"x": "m", "y": "m", "vx": "m/s", "vy": "m/s", "confidence": "1", "sensor_range": "m",
               "field_of_view": "rad"},
}
# twin_health sentinels (JSON has no inf/NaN): not enough history to forecast yet; beyond the forecast horizon; none.
RUL_UNKNOWN = -1.0
RUL_BEYOND_H = 1e6
NO_WINDOW = -1.0
# Channels whose payload must carry a "name" list matching the lengths of its list fields.
NAMED_CHANNELS = frozenset({"joint_states", "actuator_health", "twin_health", "humans"})
# Stable numeric id per channel (the order of CHANNELS is part of the protocol: append, never reorder).
CHANNEL_IDS: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}


MAX_LIST = 256  # values in a numeric list, names in `name`, entries in `units`
MAX_NAME_CHARS = 128
MAX_TEXT_CHARS = 1024
MAX_FAULTS = 64
UNIT_SCALE_ALLOWANCE = 1e3  # a field sent in a declared unit (mV, mm, mA...) may be up to this much larger
# Bounds per SI unit: generous physical limits whose only job is to keep absurd values (1e300) out.
UNIT_BOUNDS: dict[str, tuple[float, float]] = {
    "rad": (-1e6, 1e6), "rad/s": (-1e6, 1e6), "N*m": (-1e7, 1e7), "degC": (-273.15, 1e5), "A": (-1e6, 1e6),
    "V": (-1e6, 1e6), "Ah": (-1e7, 1e7), "1": (-1e6, 1e6), "m": (-1e8, 1e8), "m/s": (-1e5, 1e5),
    "m/s^2": (-1e6, 1e6), "h": (-1e7, 1e7),
}
_LEVEL = (0.0, 255.0)
_SEQUENCE = (0.0, float(2**53))
FIELD_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("safety_status", "level"): _LEVEL, ("safety_status", "authority"): _LEVEL,
    ("safety_status", "sequence"): _SEQUENCE, ("safety_event", "level"): _LEVEL,
    ("safety_event", "previous_level"): _LEVEL, ("safety_event", "authority"): _LEVEL,
    ("safety_event", "previous_authority"): _LEVEL, ("safety_event", "sequence"): _SEQUENCE,
    ("task_status", "state"): (0.0, 6.0), ("task_status", "progress"): (0.0, 1.0), ("task_status", "kind"): _LEVEL,
    ("twin_health", "health"): (0.0, 1.0), ("twin_health", "confidence"): (0.0, 1.0),
    ("twin_health", "risk"): (0.0, 1.0),
    ("twin_health", "rul_q05"): (-1.0, 1e6), ("twin_health", "rul_q50"): (-1.0, 1e6),
    ("twin_health", "rul_q95"): (-1.0, 1e6), ("twin_health", "window_opens"): (-1.0, 1e6),
    ("twin_health", "window_closes"): (-1.0, 1e6), ("twin_health", "risk_horizon"): (0.0, 1e6),
    ("humans", "x"): (-1e3, 1e3), ("humans", "y"): (-1e3, 1e3), ("humans", "confidence"): (0.0, 1.0),
    ("humans", "sensor_range"): (0.0, 1e3), ("humans", "field_of_view"): (0.0, 2 * math.pi),
}


@dataclass(frozen=True)
class Extra:
    """A known payload field that is not scored: kind bool | int | number | text | names | numbers | faults."""

    kind: str
    low: float = -1e6
    high: float = 1e6
    max_len: int = MAX_TEXT_CHARS
    nullable: bool = False


_TEXT_SHORT = Extra("text", max_len=MAX_NAME_CHARS)
_FAULTS = Extra("faults", max_len=MAX_FAULTS)
EXTRAS: dict[str, dict[str, Extra]] = {
    "joint_states": {},
    "actuator_health": {"housing_temperature": Extra("numbers", -273.15, 1e5, MAX_LIST)},
    "battery": {"power_supply_status": Extra("int", 0, 255), "present": Extra("bool")},
    "imu": {},
    "odom": {"frame_id": _TEXT_SHORT, "child_frame_id": _TEXT_SHORT},
    "safety_status": {"brake_engaged": Extra("bool"), "active_faults": _FAULTS, "speed_scale": Extra("number"),
                      "torque_scale": Extra("number")},
    "safety_event": {"cause": Extra("text"), "raised": _FAULTS, "cleared": _FAULTS, "recording": Extra("text")},
    "task_status": {"task_id": _TEXT_SHORT, "step": _TEXT_SHORT, "reason": Extra("text"),
                    "term": Extra("int", 0, float(2**53))},  # the swarm leader's term of the assignment (0: none)
    "twin_health": {"dominant_mode": Extra("names", max_len=MAX_LIST),
                    "spoofed_sensors": Extra("names", max_len=MAX_LIST),
                    "state_names": Extra("names", max_len=MAX_LIST),
                    "state_values": Extra("numbers", -1e12, 1e12, MAX_LIST),
                    "state_std": Extra("numbers", -1.0, 1e12, MAX_LIST), "reasons": Extra("names", max_len=64)},
    "humans": {"frame_id": _TEXT_SHORT},
}
# Every channel may say which of its list fields were left empty because a value was not finite (JSON has no NaN).
for _extras in EXTRAS.values():
    _extras["nonfinite"] = Extra("names", max_len=16)
# One entry of `active_faults` / `raised` / `cleared` (sigma_interfaces/SafetyFault as the bridge maps it).
FAULT_FIELDS: dict[str, Extra] = {
    "code": Extra("int", 0, 2**32 - 1), "rule": _TEXT_SHORT, "source": _TEXT_SHORT, "cause": Extra("text"),
    "severity": Extra("int", 0, 255), "latched": Extra("bool"), "value": Extra("number", -1e12, 1e12, nullable=True),
    "limit": Extra("number", -1e12, 1e12, nullable=True), "since": Extra("number", 0, 1e11),
}


def bounds(channel: str, field: str) -> tuple[float, float]:
    """The accepted [low, high] of one numeric field of a channel, in its SI unit."""
    return FIELD_BOUNDS.get((channel, field)) or UNIT_BOUNDS[CHANNELS[channel][field]]


def number_ok(value: Any) -> TypeGuard[float]:
    """True for a finite int or float (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(value: Any, low: float, high: float) -> bool:
    return number_ok(value) and low <= value <= high


def _check_extra(path: str, spec: Extra, value: Any) -> str | None:
    """Why `value` does not fit `spec`, or None."""
    if value is None and spec.nullable:
        return None
    if spec.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if spec.kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and spec.low <= value <= spec.high
        return None if ok else f"must be an integer in [{spec.low:.0f}, {spec.high:.0f}]"
    if spec.kind == "number":
        return None if _in_range(value, spec.low, spec.high) else f"must be a number in [{spec.low:g}, {spec.high:g}]"
    if spec.kind == "text":
        ok = isinstance(value, str) and len(value) <= spec.max_len
        return None if ok else f"must be a string of at most {spec.max_len} characters"
    if spec.kind == "names":
        ok = (isinstance(value, list) and len(value) <= spec.max_len
              and all(isinstance(v, str) and len(v) <= MAX_NAME_CHARS for v in value))
        return None if ok else f"must be a list of at most {spec.max_len} field names"
    if spec.kind == "numbers":
        ok = (isinstance(value, list) and len(value) <= spec.max_len
              and all(_in_range(v, spec.low, spec.high) for v in value))
        return None if ok else f"must be a list of at most {spec.max_len} numbers in [{spec.low:g}, {spec.high:g}]"
    if not isinstance(value, list) or len(value) > spec.max_len:  # faults
        return f"must be a list of at most {spec.max_len} fault objects"
    for i, fault in enumerate(value):
        if not isinstance(fault, dict):
            return f"[{i}] must be a fault object"
        for key, item in fault.items():
            field_spec = FAULT_FIELDS.get(key)
            if field_spec is None:
                return f"[{i}].{key} is not a fault field; one of {', '.join(FAULT_FIELDS)}"
            problem = _check_extra(f"{path}[{i}].{key}", field_spec, item)
            if problem:
                return f"[{i}].{key} {problem}"
    return None


def validate_payload(channel: str, payload: Any) -> list[tuple[str, str]]:
    """Check one payload against its channel schema; returns (field path, message) pairs, empty when valid."""
    if not isinstance(payload, dict):
        return [("payload", "must be an object")]
    fields = CHANNELS[channel]
    extras = EXTRAS[channel]
    problems: list[tuple[str, str]] = []
    length: int | None = None
    units = payload.get("units")
    if "units" in payload and (not isinstance(units, dict) or len(units) > MAX_LIST
            or not all(k in fields and isinstance(v, str) and len(v) <= 16 for k, v in units.items())):
        problems.append(("payload.units", "must map numeric field names of this channel to unit strings"))
        units = None
    units = units or {}
    if channel in NAMED_CHANNELS:
        names = payload.get("name")
        if (not isinstance(names, list) or len(names) > MAX_LIST
                or not all(isinstance(n, str) and len(n) <= MAX_NAME_CHARS for n in names)):
            problems.append(("payload.name", f"must be a list of at most {MAX_LIST} strings of at most "
                             f"{MAX_NAME_CHARS} characters"))
        else:
            length = len(names)
    for key, value in payload.items():
        path = f"payload.{key}"
        if key == "units" or (key == "name" and channel in NAMED_CHANNELS):
            continue
        if key in extras:
            problem = _check_extra(path, extras[key], value)
            if problem:
                problems.append((path, problem))
            continue
        if key not in fields:
            known = [*fields, *extras, *(["name"] if channel in NAMED_CHANNELS else []), "units"]
            problems.append((path, f"unknown field for channel {channel}; one of {', '.join(known)}"))
            continue
        low, high = bounds(channel, key)
        if key in units:
            span = max(abs(low), abs(high)) * UNIT_SCALE_ALLOWANCE
            low, high = -span, span
        unit = fields[key]
        if isinstance(value, list):
            if len(value) > MAX_LIST:
                problems.append((path, f"has {len(value)} values; at most {MAX_LIST}"))
                continue
            for i, item in enumerate(value):
                if not _in_range(item, low, high):
                    problems.append((f"{path}[{i}]", f"must be a finite number in [{low:g}, {high:g}] {unit}"))
                    break
            if length is not None and len(value) not in (0, length):
                problems.append((path, f"has {len(value)} values but payload.name has {length}"))
        elif not _in_range(value, low, high):
            problems.append((path, f"must be a finite number in [{low:g}, {high:g}] {unit} or a list of them"))
    return problems
