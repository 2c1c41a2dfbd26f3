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
"""

from __future__ import annotations

import numpy as np

from sigma_twin.core import data_time
from sigma_twin.core.rls import VectorRLS

MIN_SPEED = 0.05  # rad/s


class FrictionEstimator:
    """``n`` joints; ``coulomb`` and ``coulomb_var`` are the estimate and its variance [N*m, (N*m)^2]."""

    def __init__(self, n: int, memory: float) -> None:
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

    def add(self, t: float, position: np.ndarray, velocity: np.ndarray, effort: np.ndarray,
            valid: np.ndarray) -> None:
        """One sample per joint; rows not ``valid`` or not moving are skipped."""
        moving = valid & (np.abs(np.where(valid, velocity, 0.0)) > MIN_SPEED)
        if not moving.any():
            return
        dt = np.nanmedian(np.where(moving, t - self.t_last, np.nan)) if np.isfinite(self.t_last[moving]).any() else 0
        lam = 1.0 - min(max(float(np.nan_to_num(dt)), 0.0) / self.memory, 0.5)
        q, w = np.where(moving, position, 0.0), np.where(moving, velocity, 0.0)
        x = np.stack([np.ones_like(q), np.sin(q), np.cos(q), np.sign(w), w], axis=1)
        count = self.rls.count.astype(float)
        self.rls.update(x, np.where(moving, effort, 0.0), moving, forgetting=lam)
        a = np.maximum(1.0 - lam, 1.0 / (1.0 + count))  # the RLS's own weights: growing memory, then forgetting
        self.t_data = data_time.advance(self.t_data, t, a, moving)
        self.t_last = np.where(moving, t, self.t_last)
        # rows past the RLS's start-up (VectorRLS.effective_forgetting < 1), added in place: a few microseconds a sample
        settled = moving & (self.rls.count >= 1.0 / max(1.0 - lam, 1e-12))
        np.add(self.sum_coulomb, self.rls.theta[:, 3], out=self.sum_coulomb, where=settled)
        np.add(self.sum_viscous, self.rls.theta[:, 4], out=self.sum_viscous, where=settled)

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
