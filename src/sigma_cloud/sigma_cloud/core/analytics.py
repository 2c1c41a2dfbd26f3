"""Normalization to SI units and the per-robot, per-channel streaming anomaly score (pure; numpy only).

Score: every numeric field of a channel's payload is a feature; per (robot, channel) an exponentially weighted mean
and variance are kept. An event's score is its largest |z| against the statistics as they stood before its batch
(vectorized per batch), 0 until `warmup` samples were seen. Statistics then absorb the batch in one closed-form step.

The statistics can never become non-finite, and one wild value cannot blind them: features are clipped to
+/-FEATURE_LIMIT before they reach them (ingest already refuses out-of-range values per channel; this is the second
line), after warm-up a sample enters the statistics winsorized to +/-ROBUST_SIGMAS deviations (it still gets its full
score), and statistics reloaded from the database that are not finite numbers of the right shape are discarded (that
channel warms up again) instead of poisoning every later score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# |feature| bound before the statistics: squares and sums of a batch stay far inside float64 (1e12^2 * 1e4 << 1e308).
FEATURE_LIMIT = 1e12
ROBUST_SIGMAS = 10.0  # after warm-up, samples enter the statistics clipped to mean +/- this many deviations

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


def features(fields: dict[str, str], payload: dict[str, Any]) -> list[float]:
    """The numeric features of one payload, in the channel's field order."""
    vector: list[float] = []
    for key in fields:
        value = payload.get(key)
        if isinstance(value, list):
            vector.extend(value)
        elif value is not None:
            vector.append(value)
    return vector


@dataclass
class ChannelStats:
    """EWMA mean/variance of one (robot, channel) feature vector."""

    mean: np.ndarray
    var: np.ndarray
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count}

    def finite(self) -> bool:
        """True when mean and variance are finite, of one shape, and the variance is not negative."""
        return (self.mean.shape == self.var.shape and self.mean.ndim == 1 and bool(np.all(np.isfinite(self.mean)))
                and bool(np.all(np.isfinite(self.var))) and bool(np.all(self.var >= 0)) and self.count >= 0)

    @classmethod
    def from_json(cls, data: Any) -> ChannelStats | None:
        """Statistics as stored; None when they are unreadable or not finite (the channel then warms up again)."""
        try:
            stats = cls(np.asarray(data["mean"], dtype=float), np.asarray(data["var"], dtype=float),
                        int(data["count"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        return stats if stats.finite() else None


class AnomalyScorer:
    """Streaming per-channel anomaly scores for one robot."""

    def __init__(self, alpha: float = 0.05, warmup: int = 20, eps: float = 1e-6) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.eps = eps
        self.stats: dict[int, ChannelStats] = {}

    def score_batch(self, channel: int, rows: list[list[float]] | np.ndarray) -> list[float]:
        """Score consecutive samples of one channel (rows, or a float matrix one row per sample) and absorb them
        into the statistics."""
        if isinstance(rows, np.ndarray):
            width = rows.shape[1] if rows.ndim == 2 else 0
            if rows.shape[0] == 0 or width == 0:
                return [0.0] * rows.shape[0]
        else:
            width = len(rows[0]) if rows else 0
            if not rows or width == 0 or any(len(r) != width for r in rows):
                return [0.0] * len(rows)
        x = np.clip(np.nan_to_num(np.asarray(rows, dtype=float), nan=0.0, posinf=FEATURE_LIMIT,
                                  neginf=-FEATURE_LIMIT), -FEATURE_LIMIT, FEATURE_LIMIT)
        stats = self.stats.get(channel)
        if stats is None or stats.mean.shape[0] != width or not stats.finite():
            stats = ChannelStats(x[0].copy(), np.zeros(width), 0)
        if stats.count >= self.warmup:
            sd = np.sqrt(stats.var + self.eps)
            z = np.abs(x - stats.mean) / sd
            scores = z.max(axis=1).tolist()
            # Winsorized update: one wild sample moves the statistics by at most ROBUST_SIGMAS deviations, so it
            # is scored (high) but cannot inflate the variance enough to hide the next outlier.
            x = np.clip(x, stats.mean - ROBUST_SIGMAS * sd, stats.mean + ROBUST_SIGMAS * sd)
        else:
            scores = [0.0] * len(rows)
        # Closed-form EWMA over the batch: weights a*(1-a)^(n-1-i) for the samples, (1-a)^n for the old mean.
        n = x.shape[0]
        decay = (1.0 - self.alpha) ** np.arange(n - 1, -1, -1)
        weights = self.alpha * decay
        keep = (1.0 - self.alpha) ** n
        mean = keep * stats.mean + weights @ x
        var = keep * (stats.var + (stats.mean - mean) ** 2) + weights @ ((x - mean) ** 2)
        self.stats[channel] = ChannelStats(mean, var, stats.count + n)
        return scores
