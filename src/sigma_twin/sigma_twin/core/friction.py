"""Online bearing-friction estimation per joint from measured effort, velocity and position (vectorised RLS).

    tau = c0 + c1 sin q + c2 cos q + f_c sign(omega) + b omega

``c0..c2`` absorb the joint's gravity/payload load (a single-joint approximation), ``f_c`` is the Coulomb friction
and ``b`` the viscous friction. Only samples with clear motion (``|omega|`` above ``min_speed``) update it: at rest
the sign of the velocity carries no information. The forgetting factor follows the real sample spacing.

Round 24: the two friction regressors ``sign(omega)`` and ``omega`` are nearly collinear on a swinging joint, so the
estimates of ``f_c`` and ``b`` scatter together (their errors correlate at about -0.94 on the prognostics bench) and
``f_c`` alone wanders 2-3x more than it need. Bearing wear raises both terms together, so their ratio ``r = b / f_c``
is a property of the joint that stays while it wears: it is learnt from the estimator's whole history (the mean of
``b`` over the mean of ``f_c`` once the RLS forgets), and ``tied()`` is ``f_c`` with ``b = r f_c`` imposed -- the
constrained least-squares solution, computed from the same RLS's estimate and covariance (no second filter).

Round 27: the trend gets one *independent* point per epoch (``epoch_point``; a joint that hardly moved in an epoch
carries its samples into the next): the least-squares fit of the same load terms and of the Coulomb friction, the
viscous term tied by the learnt ratio, to those samples alone, at their mean time. The forgetting RLS's output is a
running average over hours of clock time (its memory is moving time): trended, it blurred the onset and its errors
were correlated from point to point; per-epoch points share no data, so the trend's fit does the smoothing itself.
They need the joint sampled well above its motion's own rhythm: 4 s samples of a 7.3 s swing visit a slowly
rotating set of phases and the points step with it (round 26); the robot's ``joint_states`` come at 10 Hz.
"""

from __future__ import annotations

import numpy as np

from sigma_twin.core import data_time
from sigma_twin.core.rls import VectorRLS

MIN_SPEED = 0.05  # rad/s
RATIO_MEMORIES = 1.0  # a per-epoch point needs the viscous ratio learnt over this many memories of motion
MIN_POINT_SAMPLES = 10  # and at least this many samples (four coefficients are fitted)


class FrictionEstimator:
    """``n`` joints; ``coulomb`` and ``coulomb_var`` are the estimate and its variance [N*m, (N*m)^2]."""

    def __init__(self, n: int, memory: float, min_motion: float = 120.0) -> None:
        self.memory = memory
        self.rls = VectorRLS(n, 5, np.array([0.0, 0.0, 0.0, 1.0, 0.5]), np.array([1e3, 1e3, 1e3, 1e2, 1e2]), 1.0,
                             noise0=1.0)
        self.t_last = np.full(n, np.nan)
        # the time the estimate stands for: the forgetting-weighted mean time of the samples it has seen. A joint
        # moves in stretches, so this trails the clock by more than the memory while it stands still
        self.t_data = np.full(n, np.nan)
        # round 24: sums of the Coulomb and viscous estimates over every moving sample after the RLS's start-up (its
        # growing-memory phase), for the ratio b / f_c that wear leaves unchanged
        self.sum_coulomb = np.zeros(n)
        self.sum_viscous = np.zeros(n)
        self.ratio_motion = np.zeros(n)  # [s] of motion behind those sums
        # round 27: the least-squares sums of the samples since the last friction point (one independent point per
        # epoch: ``epoch_point``; x x', x y, y y, the sum of times, the count), and the motion they hold [s]
        self.n = n
        self.min_motion = min_motion
        self._xtx, self._xty = np.zeros((n, 5, 5)), np.zeros((n, 5))
        self._yy, self._tt, self._count, self._motion = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)

    def add(self, t: float, position: np.ndarray, velocity: np.ndarray, effort: np.ndarray,
            valid: np.ndarray) -> None:
        """One sample per joint; rows not ``valid`` or not moving are skipped."""
        moving = valid & (np.abs(np.where(valid, velocity, 0.0)) > MIN_SPEED)
        if not moving.any():
            return
        dt = np.nanmedian(np.where(moving, t - self.t_last, np.nan)) if np.isfinite(self.t_last[moving]).any() else 0
        lam = 1.0 - min(max(float(np.nan_to_num(dt)), 0.0) / self.memory, 0.5)
        spacing = (1.0 - lam) * self.memory  # the sample's share of motion time, as the forgetting takes it [s]
        q, w = np.where(moving, position, 0.0), np.where(moving, velocity, 0.0)
        x = np.stack([np.ones_like(q), np.sin(q), np.cos(q), np.sign(w), w], axis=1)
        y = np.where(moving, effort, 0.0)
        count = self.rls.count.astype(float)
        self._add_to_epoch(t, x, y, moving, spacing)
        self.rls.update(x, y, moving, forgetting=lam)
        a = np.maximum(1.0 - lam, 1.0 / (1.0 + count))  # the RLS's own weights: growing memory, then forgetting
        self.t_data = data_time.advance(self.t_data, t, a, moving)
        self.t_last = np.where(moving, t, self.t_last)
        # rows past the RLS's start-up (VectorRLS.effective_forgetting < 1), added in place: a few microseconds a sample
        settled = moving & (self.rls.count >= 1.0 / max(1.0 - lam, 1e-12))
        np.add(self.sum_coulomb, self.rls.theta[:, 3], out=self.sum_coulomb, where=settled)
        np.add(self.sum_viscous, self.rls.theta[:, 4], out=self.sum_viscous, where=settled)
        np.add(self.ratio_motion, spacing, out=self.ratio_motion, where=settled)

    def _add_to_epoch(self, t: float, x: np.ndarray, effort: np.ndarray, moving: np.ndarray, spacing: float) -> None:
        """One sample into the current point's least-squares sums (regressors ``x``: 1, sin q, cos q, sign(omega),
        omega), from the end of the RLS's start-up on. ``spacing``: the sample's share of motion time [s]."""
        use = moving & (self.ratio_motion > 0.0) & np.isfinite(effort) & np.isfinite(x).all(axis=1)
        if not use.any():
            return
        z = np.where(use[:, None], np.nan_to_num(x), 0.0)
        y = np.where(use, np.nan_to_num(effort), 0.0)
        self._xtx += z[:, :, None] * z[:, None, :]
        self._xty += z * y[:, None]
        self._yy += y * y
        self._tt += np.where(use, t, 0.0)
        self._count += use
        self._motion += np.where(use, spacing, 0.0)

    def epoch_point(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples since the last point: Coulomb friction [N*m] from them alone (load terms fitted with it, the
        viscous term tied by the learnt ratio as it stands now), its variance and their data time [s, the samples'
        mean time]. NaN for a row with less than ``min_motion`` seconds of motion in them (a joint that hardly moved,
        or stood at a dock), or whose ratio has been learnt over less than ``RATIO_MEMORIES`` of motion; such a row
        keeps its samples for its next point, which is tied with the older ratio (round 27: tied with the ratio of
        the RLS's start-up, the first points of two of four healthy knees read 0.05 N*m low, and the growth model
        took their rise for an onset)."""
        n = self._count
        r = self.viscous_ratio
        ok = ((self._motion >= self.min_motion) & (n >= MIN_POINT_SAMPLES) & np.isfinite(r)
              & (self.ratio_motion >= RATIO_MEMORIES * self.memory))
        f = np.full(self.n, np.nan)
        var = np.full(self.n, np.nan)
        if ok.any():
            tie = np.zeros((int(ok.sum()), 4, 5))  # z = tie x: (1, sin q, cos q, sign(omega) + r omega)
            tie[:, 0, 0] = tie[:, 1, 1] = tie[:, 2, 2] = tie[:, 3, 3] = 1.0
            tie[:, 3, 4] = r[ok]
            a = np.einsum("nij,njk,nlk->nil", tie, self._xtx[ok], tie) + 1e-9 * np.eye(4)
            b = np.einsum("nij,nj->ni", tie, self._xty[ok])
            try:
                inv = np.linalg.inv(a)
            except np.linalg.LinAlgError:  # a joint held still within one pose: no point from it
                inv = np.linalg.pinv(a)
            theta = np.einsum("nij,nj->ni", inv, b)
            rss = np.maximum(self._yy[ok] - np.einsum("ni,ni->n", theta, b), 0.0)
            f[ok] = theta[:, 3]
            var[ok] = rss / (n[ok] - 4.0) * inv[:, 3, 3]
        when = np.where(ok, self._tt / np.maximum(n, 1.0), np.nan)
        for sums in (self._xtx, self._xty, self._yy, self._tt, self._count, self._motion):
            sums[ok] = 0.0
        return f, var, when

    @property
    def coulomb(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.theta[:, 3], np.nan)

    @property
    def coulomb_var(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.covariance()[:, 3, 3], np.nan)

    @property
    def viscous(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.theta[:, 4], np.nan)

    @property
    def viscous_ratio(self) -> np.ndarray:
        """``b / f_c`` [s/rad] from the estimator's history; NaN before its start-up ends or where it is not
        physical (a Coulomb mean <= 0 -- a load model that does not fit the joint -- or a negative ratio)."""
        ok = self.sum_coulomb > 0.0
        r = np.where(ok, self.sum_viscous / np.where(ok, self.sum_coulomb, 1.0), np.nan)
        return np.where(r >= 0.0, r, np.nan)

    def tied(self) -> tuple[np.ndarray, np.ndarray]:
        """Coulomb friction and its variance with the viscous term tied to it, ``b = r f_c`` (``viscous_ratio``):
        the 5-parameter estimate projected onto that constraint with its own covariance (A theta = b - r f_c = 0:
        theta - P A' (A P A')^-1 A theta). Where no ratio is known yet, the plain ``coulomb`` and ``coulomb_var``."""
        r = self.viscous_ratio
        known = np.isfinite(r)
        r = np.where(known, r, 0.0)
        c, b = self.rls.theta[:, 3], self.rls.theta[:, 4]
        p = self.rls.P
        pcc, pcb, pbb = p[:, 3, 3], p[:, 3, 4], p[:, 4, 4]
        den = np.maximum(pbb - 2.0 * r * pcb + r * r * pcc, 1e-300)  # A P A' > 0 for a positive definite P
        k = (pcb - r * pcc) / den
        f = c - k * (b - r * c)
        var = np.maximum(pcc - k * k * den, 0.0) * self.rls.noise
        ready = self.rls.count > 20
        return (np.where(ready, np.where(known, f, c), np.nan),
                np.where(ready, np.where(known, var, pcc * self.rls.noise), np.nan))
