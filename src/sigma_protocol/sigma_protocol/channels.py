"""Telemetry channels: their numeric ids, the SI unit of each numeric field, and payload validation."""

from __future__ import annotations

import math
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
}
# Channels whose payload must carry a "name" list matching the lengths of its list fields.
NAMED_CHANNELS = frozenset({"joint_states", "actuator_health"})
# Stable numeric id per channel (the order of CHANNELS is part of the protocol: append, never reorder).
CHANNEL_IDS: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}


def number_ok(value: Any) -> TypeGuard[float]:
    """True for a finite int or float (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_payload(channel: str, payload: Any) -> list[tuple[str, str]]:
    """Check one payload against its channel schema; returns (field path, message) pairs, empty when valid."""
    if not isinstance(payload, dict):
        return [("payload", "must be an object")]
    fields = CHANNELS[channel]
    problems: list[tuple[str, str]] = []
    length: int | None = None
    if channel in NAMED_CHANNELS:
        names = payload.get("name")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append(("payload.name", "must be a list of strings"))
        else:
            length = len(names)
    for key, value in payload.items():
        path = f"payload.{key}"
        if key == "name" and channel in NAMED_CHANNELS:
            continue
        if key == "units":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problems.append((path, "must map field names to unit strings"))
            continue
        if key not in fields:
            if not isinstance(value, (str, bool, int, float, type(None), list, dict)):
                problems.append((path, "unsupported value"))
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not number_ok(item):
                    problems.append((f"{path}[{i}]", "must be a finite number"))
                    break
            if length is not None and len(value) not in (0, length):
                problems.append((path, f"has {len(value)} values but payload.name has {length}"))
        elif not number_ok(value):
            problems.append((path, f"must be a finite number [{fields[key]}] or a list of them"))
    return problems
