"""Normalization to SI units (pure). The streaming anomaly score itself lives in sigma_protocol.anomaly (shared with
the robot's bridge) and is re-exported here for the ingest.
"""

from __future__ import annotations

import math
from typing import Any

from sigma_protocol.anomaly import FEATURE_LIMIT, AnomalyScorer, ChannelStats, features

__all__ = ["FEATURE_LIMIT", "UNIT_CONVERSIONS", "AnomalyScorer", "ChannelStats", "NormalizationError", "features",
           "normalize_payload"]

# unit -> (canonical unit, scale, offset): canonical = value * scale + offset
UNIT_CONVERSIONS: dict[str, tuple[str, float, float]] = {
    "mV": ("V", 1e-3, 0.0), "kV": ("V", 1e3, 0.0), "mA": ("A", 1e-3, 0.0), "mAh": ("Ah", 1e-3, 0.0),
    "deg": ("rad", math.pi / 180.0, 0.0), "deg/s": ("rad/s", math.pi / 180.0, 0.0),
    "K": ("degC", 1.0, -273.15), "degF": ("degC", 5.0 / 9.0, -32.0 * 5.0 / 9.0), "%": ("1", 0.01, 0.0),
    "mm": ("m", 1e-3, 0.0), "cm": ("m", 1e-2, 0.0), "mm/s": ("m/s", 1e-3, 0.0), "g": ("m/s^2", 9.80665, 0.0),
    "N*mm": ("N*m", 1e-3, 0.0),
}


class NormalizationError(ValueError):
    """A `units` entry that cannot be converted to the field's canonical unit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalize_payload(fields: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    """Return the payload in canonical SI units (without `units`). Payloads already canonical are returned as is."""
    units = payload.get("units")
    if units is None:
        return payload
    out = {k: v for k, v in payload.items() if k != "units"}
    for key, unit in units.items():
        if key not in fields or key not in out:
            raise NormalizationError(f"payload.units.{key}", f"no numeric field {key!r} to convert")
        canonical = fields[key]
        if unit == canonical:
            continue
        conversion = UNIT_CONVERSIONS.get(unit)
        if conversion is None or conversion[0] != canonical:
            raise NormalizationError(f"payload.units.{key}", f"cannot convert {unit!r} to {canonical!r}")
        _, scale, offset = conversion
        value = out[key]
        out[key] = [v * scale + offset for v in value] if isinstance(value, list) else value * scale + offset
    return out
