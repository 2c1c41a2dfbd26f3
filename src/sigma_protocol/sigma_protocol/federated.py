"""Federated learning of the robots' local anomaly model (pure Python, no numpy): the model's wire form and the code
both sides run — the cloud aggregates (sigma_cloud.cognition re-exports this module), the robot's bridge runs the
shadow check before adopting a fleet model (sigma_bridge.model_adoption). docs/cognition.md.

Model: per class (``normal`` and each fault class a robot has seen) the sample count and the per-feature mean and
variance of the feature vectors (e.g. incident signatures); a vector is classified by the highest diagonal-Gaussian
log-likelihood, and a fault is "detected" when that class is not ``normal``. A robot shares only these parameters,
never its data.

Aggregation (cloud): per class, per coordinate, a **sample-weighted trimmed mean** over the robots that report the
class: the `trim` largest and `trim` smallest values are dropped, the rest averaged with weights = sample counts,
each count first capped at `count_cap` x the median count (one robot cannot outweigh the fleet by claiming many
samples). Bound (tested): with at most `trim` poisoned robots among those reporting a class, every aggregated
coordinate lies within the range of the honest robots' values for that coordinate, whatever the poisoned values.
With fewer than 2 * trim + 1 robots reporting a class, the plain sample-weighted mean (FedAvg) is used and the
result says so (`robust` = False for that class).

Updates are validated first (shape, finite values, positive counts and variances, bounded magnitudes); a bad one is
refused with the reason and never aggregated. Adoption (robot side): a candidate model replaces the local one only
after a shadow check on the robot's own recent data (`shadow_check`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

NORMAL = "normal"
FLEET_DIM = 64  # the fleet model classifies incident signatures (sigma_protocol.signature)
MAX_MAGNITUDE = 1e6
MIN_VARIANCE = 1e-6


@dataclass(frozen=True)
class ClassStats:
    """Sufficient statistics of one class: count, per-feature mean and variance."""

    count: int
    mean: tuple[float, ...]
    var: tuple[float, ...]


@dataclass(frozen=True)
class Model:
    """A versioned anomaly model: class -> statistics over `dim` features."""

    dim: int
    classes: dict[str, ClassStats]
    version: int = 0
    robust: dict[str, bool] = field(default_factory=dict)


class UpdateRefusedError(ValueError):
    """A federated update that is malformed or out of bounds (the reason is the message)."""


def fit(samples: dict[str, list[list[float]]], dim: int) -> Model:
    """Train a local model from labelled feature vectors (class -> vectors)."""
    classes = {}
    for name, rows in samples.items():
        if not rows:
            continue
        n = len(rows)
        mean = tuple(sum(r[j] for r in rows) / n for j in range(dim))
        var = tuple(max(MIN_VARIANCE, sum((r[j] - mean[j]) ** 2 for r in rows) / n) for j in range(dim))
        classes[name] = ClassStats(n, mean, var)
    return Model(dim, classes)


def validate(update: Model, dim: int) -> None:
    """Refuse an update that cannot be aggregated safely; raises UpdateRefusedError naming the problem."""
    if update.dim != dim:
        raise UpdateRefusedError(f"model has {update.dim} features, the fleet model has {dim}")
    if not update.classes:
        raise UpdateRefusedError("model has no classes")
    for name, stats in update.classes.items():
        if not (isinstance(stats.count, int) and 0 < stats.count <= 10**9):
            raise UpdateRefusedError(f"class {name!r}: count must be a positive integer, got {stats.count!r}")
        if len(stats.mean) != dim or len(stats.var) != dim:
            raise UpdateRefusedError(f"class {name!r}: mean/var must have {dim} values")
        for j, (m, v) in enumerate(zip(stats.mean, stats.var, strict=True)):
            if not (math.isfinite(m) and abs(m) <= MAX_MAGNITUDE):
                raise UpdateRefusedError(f"class {name!r}: mean[{j}] = {m!r} is not finite or beyond {MAX_MAGNITUDE:g}")
            if not (math.isfinite(v) and 0 < v <= MAX_MAGNITUDE):
                raise UpdateRefusedError(f"class {name!r}: var[{j}] = {v!r} must be in (0, {MAX_MAGNITUDE:g}]")


def _trimmed(values: list[tuple[float, float]], trim: int) -> float:
    ordered = sorted(values)
    kept = ordered[trim:len(ordered) - trim] if trim else ordered
    total = sum(w for _, w in kept)
    return sum(v * w for v, w in kept) / total


def aggregate(updates: list[Model], *, version: int, trim: int = 1, count_cap: float = 3.0) -> Model:
    """The fleet model from validated robot updates (see the module docstring for the rule and its bound)."""
    if not updates:
        raise UpdateRefusedError("no updates to aggregate")
    dim = updates[0].dim
    for update in updates:
        validate(update, dim)
    names = sorted({name for u in updates for name in u.classes})
    classes: dict[str, ClassStats] = {}
    robust: dict[str, bool] = {}
    for name in names:
        reports = [u.classes[name] for u in updates if name in u.classes]
        cap = count_cap * statistics.median(r.count for r in reports)
        weights = [min(float(r.count), cap) for r in reports]
        use_trim = trim if len(reports) >= 2 * trim + 1 else 0
        robust[name] = use_trim > 0
        mean = tuple(_trimmed([(r.mean[j], w) for r, w in zip(reports, weights, strict=True)], use_trim)
                     for j in range(dim))
        var = tuple(_trimmed([(r.var[j], w) for r, w in zip(reports, weights, strict=True)], use_trim)
                    for j in range(dim))
        classes[name] = ClassStats(int(sum(weights)), mean, var)
    return Model(dim, classes, version, robust)


def log_likelihood(stats: ClassStats, x: list[float]) -> float:
    """Diagonal-Gaussian log-likelihood of x under one class."""
    return -0.5 * sum(math.log(2 * math.pi * v) + (xi - m) ** 2 / v for xi, m, v in zip(x, stats.mean, stats.var,
                                                                                          strict=True))


def classify(model: Model, x: list[float]) -> str:
    """The most likely class of a feature vector."""
    return max(model.classes, key=lambda name: log_likelihood(model.classes[name], x))


def accuracy(model: Model, labelled: list[tuple[list[float], str]]) -> float:
    """Share of vectors whose fault/normal verdict is right (a fault counts as detected under any fault class)."""
    if not labelled:
        return 0.0
    right = sum(1 for x, label in labelled if (classify(model, x) != NORMAL) == (label != NORMAL))
    return right / len(labelled)


def shadow_check(local: Model, candidate: Model, recent: list[tuple[list[float], str]], margin: float = 0.02
                 ) -> tuple[bool, str]:
    """Robot side: adopt `candidate` only if, on the robot's own recent labelled data, it is not worse than the
    local model by more than `margin` (accuracy). Returns (adopt, reason)."""
    if candidate.dim != local.dim:
        return False, f"candidate has {candidate.dim} features, local model {local.dim}"
    if not recent:
        return False, "no recent data to check the candidate against"
    mine, theirs = accuracy(local, recent), accuracy(candidate, recent)
    if theirs + margin < mine:
        return False, f"candidate accuracy {theirs:.3f} < local {mine:.3f} - margin {margin:g} on {len(recent)} samples"
    return True, f"candidate accuracy {theirs:.3f} vs local {mine:.3f} on {len(recent)} samples (margin {margin:g})"


def to_json(model: Model) -> dict:
    """The wire/storage form: {"dim", "version", "classes": {name: {"count", "mean", "var"}}, "robust"}."""
    return {"dim": model.dim, "version": model.version, "robust": model.robust,
            "classes": {n: {"count": s.count, "mean": list(s.mean), "var": list(s.var)}
                        for n, s in model.classes.items()}}


def from_json(data: object, dim: int) -> Model:
    """Parse an uploaded model; anything malformed raises UpdateRefusedError naming the field."""
    if not isinstance(data, dict):
        raise UpdateRefusedError("model must be a JSON object")
    classes = data.get("classes")
    if not isinstance(classes, dict) or not 0 < len(classes) <= 32:
        raise UpdateRefusedError("classes must be an object of 1..32 classes")
    parsed = {}
    for name, stats in classes.items():
        if not (isinstance(name, str) and 0 < len(name) <= 64):
            raise UpdateRefusedError("class names are 1..64 characters")
        if not isinstance(stats, dict):
            raise UpdateRefusedError(f"class {name!r} must be an object with count, mean, var")
        mean, var, count = stats.get("mean"), stats.get("var"), stats.get("count")
        if not (isinstance(mean, list) and isinstance(var, list)) or isinstance(count, bool):
            raise UpdateRefusedError(f"class {name!r}: mean and var must be lists, count an integer")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (*mean, *var)):
            raise UpdateRefusedError(f"class {name!r}: mean and var must hold numbers")
        parsed[name] = ClassStats(count if isinstance(count, int) else -1, tuple(float(v) for v in mean),
                                  tuple(float(v) for v in var))
    model = Model(int(data.get("dim", -1)) if isinstance(data.get("dim"), int) else -1, parsed)
    validate(model, dim)
    return model
