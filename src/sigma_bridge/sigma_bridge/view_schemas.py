"""JSON Schemas of the live view's JSON channels, so Foxglove/Lichtblick can type and validate their fields.

Each schema describes exactly what :mod:`sigma_bridge.mapping` produces for that channel (a test validates real
payloads against them). Units follow REP-103; temperatures in degC.
"""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NUMBER_OR_NULL = {"type": ["number", "null"]}

FAULT: dict[str, Any] = {
    "type": "object",
    "description": "One active safety fault (sigma_interfaces/SafetyFault).",
    "properties": {
        "code": {"type": "integer", "description": "fault code (sigma_safety rule catalogue)"},
        "rule": {"type": "string", "description": "rule that raised it, e.g. thermal, human_proximity, estop"},
        "source": {"type": "string", "description": "joint, sensor or zone it concerns"},
        "cause": {"type": "string", "description": "why, in words"},
        "severity": {"type": "integer", "minimum": 0, "maximum": 2,
                     "description": "0 warning (derate), 1 protective stop, 2 emergency stop"},
        "latched": {"type": "boolean", "description": "needs an authorized reset to clear"},
        "value": {**_NUMBER_OR_NULL, "description": "measured value (null: not measured)"},
        "limit": {**_NUMBER_OR_NULL, "description": "limit it was compared with"},
        "since": {"type": "number", "description": "raised at [s, ROS time]"},
    },
    "required": ["code", "rule", "source", "cause", "severity", "latched", "value", "limit", "since"],
}

SAFETY_STATUS: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "sigma_bridge safety status",
    "description": "sigma_interfaces/SafetyStatus as the bridge maps it.",
    "type": "object",
    "properties": {
        "level": {"type": "integer", "minimum": 0, "maximum": 3,
                  "description": "0 nominal, 1 degraded, 2 protective stop, 3 emergency stop"},
        "authority": {"type": "integer", "minimum": 0,
                      "description": "decision authority: 0 primary AI, 1 edge AI, 2 mechanical fallback"},
        "brake_engaged": {"type": "boolean", "description": "mechanical brakes engaged"},
        "active_faults": {"type": "array", "items": FAULT},
        "sequence": {"type": "integer", "minimum": 0, "description": "status sequence number"},
        "speed_scale": {"type": "number", "minimum": 0, "maximum": 1, "description": "allowed fraction of speed"},
        "torque_scale": {"type": "number", "minimum": 0, "maximum": 1, "description": "allowed fraction of torque"},
    },
    "required": ["level", "authority", "brake_engaged", "active_faults", "sequence"],
}

_PER_JOINT = {"type": "object", "additionalProperties": {"type": "number"}}
ACTUATOR_HEALTH: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "sigma_bridge actuator health",
    "description": "Per-joint winding temperature and motor current (plot e.g. .temperature.left_knee).",
    "type": "object",
    "properties": {
        "temperature": {**_PER_JOINT, "description": "winding temperature per joint [degC]"},
        "current": {**_PER_JOINT, "description": "motor current per joint [A]"},
    },
    "required": ["temperature", "current"],
}

BATTERY: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "sigma_bridge battery",
    "description": "sensor_msgs/BatteryState as the bridge maps it; unmeasured (NaN) values are left out.",
    "type": "object",
    "properties": {
        "power_supply_status": {"type": "integer", "minimum": 0, "maximum": 4,
                                "description": "BatteryState POWER_SUPPLY_STATUS_* (2 discharging, 1 charging)"},
        "present": {"type": "boolean"},
        "voltage": {"type": "number", "description": "terminal voltage [V]"},
        "current": {"type": "number", "description": "current [A], negative while discharging"},
        "charge": {"type": "number", "description": "remaining charge [Ah]"},
        "capacity": {"type": "number", "description": "capacity [Ah]"},
        "percentage": {"type": "number", "minimum": 0, "maximum": 1, "description": "state of charge (0..1)"},
        "temperature": {"type": "number", "description": "pack temperature [degC]"},
    },
    "required": ["power_supply_status", "present"],
}

SWARM_STATE: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "sigma_swarm state",
    "description": "sigma_interfaces/SwarmState (swarm/state) as the bridge maps it (docs/swarm.md).",
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["follower", "pre_candidate", "candidate", "leader"]},
        "term": {"type": "integer", "minimum": 0, "description": "election term (fencing token)"},
        "leader": {"type": "string", "description": "acknowledged leader; empty = no leader"},
        "lease_valid": {"type": "boolean", "description": "this robot leads with a valid lease"},
        "members": {"type": "array", "items": {"type": "string"}, "description": "live roster members"},
        "suspected": {"type": "array", "items": {"type": "string"}, "description": "silent roster members"},
        "roster_version": {"type": "integer", "minimum": 0},
        "frames_dropped": {"type": "integer", "minimum": 0, "description": "mesh frames dropped (bad signature, ...)"},
    },
    "required": ["role", "term", "leader", "lease_valid", "members", "roster_version"],
}
