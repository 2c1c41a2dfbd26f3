"""Configuration of the streaming anomaly score (pure): per-field noise floors in physical units, which fields are
scored at all, and how the robot's operating mode (rest or moving) is told from its own telemetry.

The values live in `anomaly_scoring.yaml` beside this module, each with its description; SIGMA_ANOMALY_SCORING
names another file of the same shape. A malformed file is refused at load with the entry that is wrong.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sigma_protocol.channels import CHANNEL_IDS, CHANNELS

DEFAULT_FILE = Path(__file__).with_name("anomaly_scoring.yaml")
ENV_FILE = "SIGMA_ANOMALY_SCORING"
NAMES = "names"  # a field with one value per entry of the payload's `name` list


class ScoringConfigError(ValueError):
    """An anomaly-scoring configuration that cannot be used; the message names the entry."""


@dataclass(frozen=True)
class FieldSpec:
    """One numeric payload field: values per event (None: one per name), noise floor (None: not scored); `posture`:
    a set-point the robot's task moves it to (joint angles: arms carrying a tote or not), scored only at rest against
    the posture the robot last moved itself into (see anomaly.AnomalyScorer)."""

    name: str
    size: int | None
    floor: float | None
    description: str = ""
    posture: bool = False


@dataclass(frozen=True)
class Column:
    """Where one field's values sit in a channel's feature vector."""

    name: str
    start: int
    stop: int
    floor: float | None
    posture: bool = False


@dataclass(frozen=True)
class ScoringConfig:
    """Everything the scorer reads; `channels` maps a channel id to its fields in the protocol's order."""

    alpha: float = 0.05
    warmup: int = 20
    robust_sigmas: float = 3.0
    outlier_z: float = 6.0       # samples scoring at least this are learned with outlier_weight
    outlier_weight: float = 0.02
    joint_speed: float = 0.3   # [rad/s]
    base_speed: float = 0.05   # [m/s]
    base_turn: float = 0.15    # [rad/s]
    rest_after: int = 16       # still kinematic samples before "at rest" again
    channels: dict[int, tuple[FieldSpec, ...]] = field(default_factory=dict)
    _layouts: dict[tuple[int, int], tuple[Column, ...] | None] = field(default_factory=dict, compare=False,
                                                                         repr=False)
    _floors: dict[tuple[int, int, float], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict,
                                                                                 compare=False, repr=False)
    _postures: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ScoringConfigError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.warmup < 1 or self.rest_after < 1:
            raise ScoringConfigError("warmup and motion.rest_after must be >= 1")
        if not 0 <= self.outlier_weight <= 1:
            raise ScoringConfigError(f"outlier_weight must be in [0, 1], got {self.outlier_weight!r}")
        for name in ("robust_sigmas", "outlier_z", "joint_speed", "base_speed", "base_turn"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ScoringConfigError(f"{name} must be a positive finite number, got {value!r}")

    def layout(self, channel: int, width: int) -> tuple[Column, ...] | None:
        """The fields behind a feature vector of `width` values (fields may be absent from a payload): the first
        fit, all fields present first, then fewer, in the protocol's order. None when nothing fits exactly."""
        key = (channel, width)
        if key not in self._layouts:
            self._layouts[key] = _fit(self.channels.get(channel, ()), width)
        return self._layouts[key]

    def floors(self, channel: int, width: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
        """(floor per feature, scored mask). Unknown channel: `eps` everywhere. A layout that fits no subset of the
        fields: the channel's smallest floor on every feature (the most sensitive reading, never blind)."""
        key = (channel, width, eps)
        if key not in self._floors:
            self._floors[key] = self._compute_floors(channel, width, eps)
        return self._floors[key]

    def posture(self, channel: int, width: int) -> np.ndarray:
        """Mask of the features that are posture set-points (none when the layout is unknown)."""
        key = (channel, width)
        if key not in self._postures:
            mask = np.zeros(width, dtype=bool)
            for column in self.layout(channel, width) or ():
                mask[column.start:column.stop] = column.posture
            self._postures[key] = mask
        return self._postures[key]

    def _compute_floors(self, channel: int, width: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
        columns = self.layout(channel, width)
        floor = np.full(width, eps)
        scored = np.ones(width, dtype=bool)
        specs = self.channels.get(channel)
        if not specs:
            return floor, scored
        if columns is None:
            known = [s.floor for s in specs if s.floor is not None]
            floor[:] = min(known) if known else eps
            scored[:] = bool(known)
            return floor, scored
        for column in columns:
            if column.floor is None:
                scored[column.start:column.stop] = False
            else:
                floor[column.start:column.stop] = column.floor
        return floor, scored


def _fit(specs: tuple[FieldSpec, ...], width: int) -> tuple[Column, ...] | None:
    for count in range(len(specs), 0, -1):
        for subset in itertools.combinations(specs, count):
            fixed = sum(s.size for s in subset if s.size is not None)
            named = sum(1 for s in subset if s.size is None)
            rest = width - fixed
            if rest < 0 or (named == 0 and rest != 0) or (named and (rest == 0 or rest % named)):
                continue
            per_name = rest // named if named else 0
            columns, start = [], 0
            for spec in subset:
                stop = start + (spec.size if spec.size is not None else per_name)
                columns.append(Column(spec.name, start, stop, spec.floor, spec.posture))
                start = stop
            return tuple(columns)
    return None


def _value(doc: dict[str, Any], key: str, kind: type) -> Any:
    entry = doc.get(key)
    if not isinstance(entry, dict) or "value" not in entry or not isinstance(entry.get("description"), str):
        raise ScoringConfigError(f"{key}: needs a value and a description")
    try:
        return kind(entry["value"])
    except (TypeError, ValueError) as exc:
        raise ScoringConfigError(f"{key}: {exc}") from exc


def parse(doc: Any) -> ScoringConfig:
    """A configuration from the YAML document's data; raises ScoringConfigError naming the wrong entry."""
    if not isinstance(doc, dict):
        raise ScoringConfigError("the anomaly-scoring document must be a mapping")
    motion = doc.get("motion")
    if not isinstance(motion, dict):
        raise ScoringConfigError("motion: missing")
    channels: dict[int, tuple[FieldSpec, ...]] = {}
    for name, fields in (doc.get("channels") or {}).items():
        if name not in CHANNELS or not isinstance(fields, dict):
            raise ScoringConfigError(f"channels.{name}: not a channel of the protocol")
        order = list(CHANNELS[name])
        specs = []
        for key, spec in sorted(fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1):
            where = f"channels.{name}.{key}"
            if key not in order or not isinstance(spec, dict) or not isinstance(spec.get("description"), str):
                raise ScoringConfigError(f"{where}: not a numeric field of the channel, or no description")
            size, floor = spec.get("size"), spec.get("floor")
            if not (size == NAMES or (isinstance(size, int) and size >= 1)):
                raise ScoringConfigError(f"{where}.size: must be a positive integer or {NAMES!r}")
            if floor is not None and not (isinstance(floor, int | float) and math.isfinite(floor) and floor > 0):
                raise ScoringConfigError(f"{where}.floor: must be a positive number [SI unit] or null")
            posture = spec.get("posture", False)
            if not isinstance(posture, bool) or (posture and floor is None):
                raise ScoringConfigError(f"{where}.posture: must be true or false, and true only for a scored field")
            specs.append(FieldSpec(key, None if size == NAMES else size, None if floor is None else float(floor),
                                   spec["description"], posture))
        channels[CHANNEL_IDS[name]] = tuple(specs)
    return ScoringConfig(alpha=_value(doc, "alpha", float), warmup=_value(doc, "warmup", int),
                         robust_sigmas=_value(doc, "robust_sigmas", float),
                         outlier_z=_value(doc, "outlier_z", float), outlier_weight=_value(doc, "outlier_weight", float),
                         joint_speed=_value(motion, "joint_speed", float),
                         base_speed=_value(motion, "base_speed", float), base_turn=_value(motion, "base_turn", float),
                         rest_after=_value(motion, "rest_after", int), channels=channels)


def load(path: str | Path | None = None) -> ScoringConfig:
    """The configuration from `path`, else $SIGMA_ANOMALY_SCORING, else the packaged anomaly_scoring.yaml."""
    path = Path(path or os.environ.get(ENV_FILE) or DEFAULT_FILE)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScoringConfigError(f"cannot read the anomaly-scoring file {path}: {exc}") from exc
    return parse(doc)


@functools.lru_cache(maxsize=1)
def default() -> ScoringConfig:
    """The process's configuration (loaded once)."""
    return load()
