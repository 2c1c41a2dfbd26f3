"""The per-robot, per-channel streaming anomaly score (pure; numpy). Shared by the cloud's ingest (scores every
event) and the robot's bridge (scores the window around a labelled sample for its local learner), so both compute
the same numbers.

Score: every scored numeric field of a channel's payload is a feature; per (robot, channel, operating mode) an
exponentially weighted mean and variance are kept. An event's score is its largest |z| against the statistics as they
stood before its batch (vectorized per batch), 0 until `warmup` samples were seen in that mode, where
z = |x - mean| / sqrt(var + floor^2). Statistics then absorb the batch in one closed-form step.

Why floors and modes (reproduced from a healthy robot's recorded telemetry, docs/cognition.md "Anomaly score"):
while a robot stands still its variance collapses to nearly nothing, so the first steps of a task (joint speeds,
torques, motor currents, body rates) used to read as |z| in the hundreds for seconds, and the Primary AI held
healthy robots. Each field now has a noise floor in its physical unit (anomaly_scoring.yaml: a still robot's
deviation must exceed threshold x floor to count), fields that are states, counters, quaternions or positions are not
scored, and the robot's rest and moving statistics are kept apart (the mode is read from its joint speeds and base
velocity), so a start of motion is compared with how this robot moves.

Posture (joint angles): the angles a task puts the robot in are set-points, not health — a robot carrying a tote
stands with its elbows bent 1.2 rad, one without with them straight. Scored against statistics learned in the other
posture they read as |z| 12 for a minute (the Primary AI held a healthy r2 that stood still holding the hand-over
tote, 01:36 UTC run, docs/cognition.md). Fields marked `posture` are therefore scored only at rest, and each time
the robot comes to rest their reference is re-taken from the posture it has just moved itself into (its joints
moved there: joint_states velocity); a posture change without joint motion (a jump of a reading while the robot
stands, e.g. an encoder bias) is still scored.

The statistics can never become non-finite, and one wild value cannot blind them: features are clipped to
+/-FEATURE_LIMIT before they reach them (ingest already refuses out-of-range values per channel; this is the second
line), after warm-up a sample enters the statistics winsorized to +/-robust_sigmas deviations (it still gets its full
score), and statistics reloaded from the database that are not finite numbers of the right shape are discarded (that
channel warms up again) instead of poisoning every later score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sigma_protocol import anomaly_config
from sigma_protocol.anomaly_config import ScoringConfig
from sigma_protocol.channels import CHANNEL_IDS

# |feature| bound before the statistics: squares and sums of a batch stay far inside float64 (1e12^2 * 1e4 << 1e308).
FEATURE_LIMIT = 1e12


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
    """EWMA mean/variance of one (robot, channel) feature vector while the robot is at rest; `moving` holds the same
    statistics for while it moves (None until it first moved). Stored per channel as JSON (robot_latest.stats)."""

    mean: np.ndarray
    var: np.ndarray
    count: int
    moving: ChannelStats | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count}
        if self.moving is not None:
            doc["moving"] = {"mean": self.moving.mean.tolist(), "var": self.moving.var.tolist(),
                             "count": self.moving.count}
        return doc

    def finite(self) -> bool:
        """True when mean and variance are finite, of one shape, and the variance is not negative."""
        own = (self.mean.shape == self.var.shape and self.mean.ndim == 1 and bool(np.all(np.isfinite(self.mean)))
               and bool(np.all(np.isfinite(self.var))) and bool(np.all(self.var >= 0)) and self.count >= 0)
        return own and (self.moving is None or (self.moving.finite() and self.moving.mean.shape == self.mean.shape))

    @classmethod
    def from_json(cls, data: Any) -> ChannelStats | None:
        """Statistics as stored; None when they are unreadable or not finite (the channel then warms up again).
        Documents from before operating modes (no `moving`) are the rest statistics."""
        try:
            stats = cls(np.asarray(data["mean"], dtype=float), np.asarray(data["var"], dtype=float),
                        int(data["count"]))
            if data.get("moving") is not None:
                moving = data["moving"]
                stats.moving = cls(np.asarray(moving["mean"], dtype=float), np.asarray(moving["var"], dtype=float),
                                   int(moving["count"]))
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            return None
        return stats if stats.finite() else None


JOINT_STATES = CHANNEL_IDS["joint_states"]
ODOM = CHANNEL_IDS["odom"]


class AnomalyScorer:
    """Streaming per-channel anomaly scores for one robot, against its statistics for its current operating mode
    (rest or moving: a robot that starts to walk is compared with how it walks, not with how it stood), each
    feature's deviation measured in units of max(its spread, its noise floor)."""

    def __init__(self, alpha: float | None = None, warmup: int | None = None, eps: float = 1e-6,
                 config: ScoringConfig | None = None) -> None:
        self.config = config or anomaly_config.default()
        self.alpha = self.config.alpha if alpha is None else alpha
        self.warmup = self.config.warmup if warmup is None else warmup
        self.eps = eps
        self.stats: dict[int, ChannelStats] = {}
        self.moving = False
        self._still = 0  # consecutive still joint_states/odom samples
        self._rebase: set[int] = set()  # channels whose posture reference is re-taken when next scored at rest

    def observe_motion(self, channel: int, x: np.ndarray) -> None:
        """Update the operating mode from kinematic samples: moving at once on motion, at rest again after
        `rest_after` still samples (joint_states velocities; odom base speed and yaw rate)."""
        columns = self.config.layout(channel, x.shape[1])
        if channel not in (JOINT_STATES, ODOM) or columns is None:
            return
        where = {c.name: c for c in columns}
        cfg = self.config
        if channel == JOINT_STATES:
            if "velocity" not in where:
                return
            v = where["velocity"]
            moving = np.maximum.reduce(np.abs(x[:, v.start:v.stop]), axis=1, initial=0.0) > cfg.joint_speed
        else:
            moving = np.zeros(x.shape[0], dtype=bool)
            if "linear" in where and where["linear"].stop - where["linear"].start >= 2:
                lin = where["linear"].start
                moving |= np.hypot(x[:, lin], x[:, lin + 1]) > cfg.base_speed
            if "angular" in where and where["angular"].stop - where["angular"].start >= 3:
                moving |= np.abs(x[:, where["angular"].start + 2]) > cfg.base_turn
        was_moving = self.moving
        if np.logical_or.reduce(moving):
            self.moving = True
            self._still = int(x.shape[0] - 1 - moving.nonzero()[0][-1])
        else:
            self._still += x.shape[0]
        if self._still >= cfg.rest_after:
            self.moving = False
            if was_moving:  # come to rest: every channel's posture reference is re-taken
                self._rebase = set(cfg.channels)

    def score_batch(self, channel: int, rows: list[list[float]] | np.ndarray) -> list[float]:
        """Score consecutive samples of one channel (rows, or a float matrix one row per sample) and absorb them
        into the statistics of the robot's current mode (joint_states/odom batches update the mode first)."""
        if isinstance(rows, np.ndarray):
            width = rows.shape[1] if rows.ndim == 2 else 0
            if rows.shape[0] == 0 or width == 0:
                return [0.0] * rows.shape[0]
        else:
            width = len(rows[0]) if rows else 0
            if not rows or width == 0 or any(len(r) != width for r in rows):
                return [0.0] * len(rows)
        x = np.asarray(rows, dtype=float)
        # The ufuncs' own reduce/accumulate below, not the np.* / ndarray-method wrappers around them: same arithmetic,
        # without the wrappers' Python overhead, which dominates for the few rows of a robot's 1 s batch.
        if not np.logical_and.reduce(np.abs(x) <= FEATURE_LIMIT, axis=None):  # NaN, ±inf, beyond: one check
            x = np.clip(np.nan_to_num(x, nan=0.0, posinf=FEATURE_LIMIT, neginf=-FEATURE_LIMIT), -FEATURE_LIMIT,
                        FEATURE_LIMIT)
        self.observe_motion(channel, x)
        stored = self.stats.get(channel)
        # Statistics in `stats` are finite: read through ChannelStats.from_json (which drops others) or computed
        # here from samples clipped to ±FEATURE_LIMIT, so only their width is checked per batch.
        if stored is None or stored.mean.shape[0] != width:
            stored = ChannelStats(x[0].copy(), np.zeros(width), 0)
        stats = stored.moving if self.moving else stored
        other = stored if self.moving else stored.moving
        if (stats is None or stats.count < self.warmup) and other is not None and other.count >= self.warmup:
            # a mode not learned yet starts from the other mode's statistics (the floors keep a still robot's
            # statistics realistic), so the robot's first motion, or its first rest, is not a blind spot
            stats = ChannelStats(other.mean.copy(), other.var.copy(), other.count)
        if stats is None:
            stats = ChannelStats(x[0].copy(), np.zeros(width), 0)
        floor, scored = self.config.floors(channel, width, self.eps)
        posture = self.config.posture(channel, width)
        if posture.any():
            if self.moving:  # set-points of the task while it moves: not scored (velocity/effort are)
                scored = scored & ~posture
            elif channel in self._rebase:  # at rest in the posture the robot just moved itself into
                stats = ChannelStats(np.where(posture, x[-1], stats.mean), np.where(posture, 0.0, stats.var),
                                     stats.count)
        if not self.moving:
            self._rebase.discard(channel)
        n = x.shape[0]
        alphas = np.full(n, self.alpha)
        if stats.count >= self.warmup:
            sd = np.sqrt(stats.var + floor * floor)
            z = np.where(scored, np.abs(x - stats.mean) / sd, 0.0)
            peak = np.maximum.reduce(z, axis=1)
            scores = peak.tolist()
            # Robust update: a sample enters the statistics clipped to robust_sigmas deviations, and a sample that
            # scores as an anomaly (>= outlier_z) enters with outlier_weight of the usual weight, so a real fault
            # stays visible for as long as it lasts instead of being learned as normal within a few samples, while
            # a lasting change of regime is still learned (slowly).
            bound = self.config.robust_sigmas * sd
            x = np.minimum(np.maximum(x, stats.mean - bound), stats.mean + bound)  # clip (bound >= 0)
            alphas = np.where(peak >= self.config.outlier_z, self.alpha * self.config.outlier_weight, alphas)
        else:
            scores = [0.0] * n
        # Closed-form EWMA over the batch (sample i weighs a_i * prod_{j>i}(1 - a_j), the old statistics
        # prod_j(1 - a_j)): the same moments as absorbing the samples one at a time.
        remain = 1.0 - alphas
        after = np.concatenate((np.multiply.accumulate(remain[::-1])[::-1][1:], [1.0]))
        weights = alphas * after
        keep = float(np.multiply.reduce(remain))
        mean = keep * stats.mean + weights @ x
        var = keep * (stats.var + (stats.mean - mean) ** 2) + weights @ ((x - mean) ** 2)
        updated = ChannelStats(mean, var, stats.count + n)
        if self.moving:
            self.stats[channel] = ChannelStats(stored.mean, stored.var, stored.count, updated)
        else:
            self.stats[channel] = ChannelStats(mean, var, stats.count + n, stored.moving)
        return scores
