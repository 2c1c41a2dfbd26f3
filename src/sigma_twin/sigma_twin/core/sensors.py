"""Input checks and the winding-sensor bias estimate.

``ChannelGuard`` vets every sample before an estimator sees it: non-finite values, wrong array sizes, unknown names
and out-of-order stamps are rejected per channel, counted, and lower that channel's confidence with the reason
kept in words, so the twin never crashes on bad input and says why a health figure is less certain.

``RestBias``: after a motor has rested long enough, its winding and housing share one temperature (the winding
only exchanges heat with the housing), so the measured difference is the winding sensor's bias.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from sigma_twin.core import data_time
from sigma_twin.core.params import EstimatorParams

#: One value per name, as a message field carries them (a list, an array.array or a numpy array).
Values = Sequence[float] | np.ndarray


class ChannelGuard:
    """Per-channel acceptance bookkeeping: confidence in [0, 1] decays with rejects, recovers with good samples."""

    def __init__(self, channels: list[str]) -> None:
        self.channels = list(channels)
        self.index = {c: k for k, c in enumerate(self.channels)}
        self.confidence = np.ones(len(self.channels))
        self.rejected = np.zeros(len(self.channels), dtype=int)
        self.reason: dict[str, list[str]] = {}  # channel -> its latest distinct reasons (at most 3)
        self.last_stamp: dict[str, float] = {}

    def stamp_ok(self, source: str, t: float) -> bool:
        """Time stamps of one source must be finite and not go backwards."""
        if not math.isfinite(t):
            self.reject_all(f"{source}: non-finite time stamp", source)
            return False
        last = self.last_stamp.get(source)
        if last is not None and t < last:
            self.reject_all(f"{source}: stamp {t:.3f} s is older than the last one ({last:.3f} s)", source)
            return False
        self.last_stamp[source] = t
        return True

    def reject_all(self, why: str, source: str | None = None) -> None:
        for c in self.channels if source is None else [c for c in self.channels if c.startswith(source)]:
            self.reject(c, why)

    def reject(self, channel: str, why: str) -> None:
        k = self.index.get(channel)
        if k is None:
            return
        self.rejected[k] += 1
        self.confidence[k] *= 0.9
        kept = [r for r in self.reason.get(channel, []) if r != why]
        self.reason[channel] = [*kept, why][-3:]

    def accept(self, mask: np.ndarray, channels: list[str]) -> None:
        """Good samples on the masked channels: confidence recovers slowly."""
        for c, ok in zip(channels, mask, strict=True):
            k = self.index[c]
            if ok:
                self.confidence[k] = min(1.0, self.confidence[k] + 0.002)
                if self.confidence[k] > 0.99:
                    self.reason.pop(c, None)

    def accept_count(self, channel: str, n: int) -> None:
        """``n`` good samples on one channel (a batch): the same recovery as ``n`` calls of ``accept``."""
        k = self.index[channel]
        self.confidence[k] = min(1.0, self.confidence[k] + 0.002 * n)
        if self.confidence[k] > 0.99:
            self.reason.pop(channel, None)

    def values(self, source: str, names: list[str], known: list[str], arrays: Mapping[str, Values | None],
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Map named arrays onto the ``known`` order. Returns (valid mask per known name, arrays in that order).
        Unknown names, size mismatches and non-finite entries are rejected with a reason; never raises."""
        n = len(known)
        pos = {name: k for k, name in enumerate(known)}
        valid = np.zeros(n, dtype=bool)
        out = {key: np.full(n, np.nan) for key in arrays}
        for key, arr in arrays.items():
            if arr is not None and len(arr) not in (0, len(names)):
                self.reject_all(f"{source}.{key}: {len(arr)} values for {len(names)} names", source)
                return valid, out
        for j, name in enumerate(names):
            k = pos.get(name)
            if k is None:
                self.reject(f"{source}", f"{source}: unknown name {name!r}")
                continue
            ok = True
            for key, arr in arrays.items():
                if arr is None or len(arr) == 0:
                    continue
                value = float(arr[j])
                if not math.isfinite(value):
                    self.reject(f"{source}:{name}", f"{source}.{key}[{name}] = {value} is not finite")
                    ok = False
                    break
                out[key][k] = value
            valid[k] = ok
        return valid, out


class RestBias:
    """Winding sensor bias per motor [K] from rest periods: EWMA of (T_w - T_h) once rested ``rest_settle``."""

    MEMORY = 100  # settled samples: the EWMA's weight floor is 1 / MEMORY

    def __init__(self, n: int, est: EstimatorParams) -> None:
        self.est = est
        self.rest_since = np.full(n, np.nan)
        self.bias = np.zeros(n)
        self.var = np.full(n, 4.0)  # K^2: unknown until a rest has been seen
        self.seen = np.zeros(n)
        self.rest_obs = np.zeros(n)
        self.rests = np.zeros(n)
        self.t_data = np.full(n, np.nan)  # the EWMA's weighted mean time [s]: when its value stands for

    def add(self, t: float, current: np.ndarray, t_winding: np.ndarray, t_housing: np.ndarray,
            valid: np.ndarray) -> None:
        at_rest = valid & (np.abs(current) < self.est.rest_current)
        ended = valid & ~at_rest & (self.rest_obs > 0)
        self.rests += ended  # one finished rest = one independent bias observation
        self.rest_obs = np.where(ended, 0, self.rest_obs)
        self.rest_since = np.where(at_rest, np.where(np.isnan(self.rest_since), t, self.rest_since), np.nan)
        settled = at_rest & (t - self.rest_since >= self.est.rest_settle)
        self.rest_obs += settled
        if not settled.any():
            return
        obs = t_winding - t_housing
        a = np.maximum(1.0 / (1.0 + self.seen), 1.0 / self.MEMORY)
        self.bias = np.where(settled, self.bias + a * (obs - self.bias), self.bias)
        self.t_data = data_time.advance(self.t_data, t, a, settled)
        self.seen += settled
        # variance of the running mean of (T_w - T_h) readings at rest (two sensors of ~0.25 K noise)
        self.var = np.where(settled, 0.125 * a / (2.0 - a), self.var)
