"""Online bearing-friction estimation per joint from measured effort, velocity and position (vectorised RLS).

    tau = c0 + c1 sin q + c2 cos q + f_c sign(omega) + b omega

``c0..c2`` absorb the joint's gravity/payload load (a single-joint approximation), ``f_c`` is the Coulomb friction
and ``b`` the viscous friction. Only samples with clear motion (``|omega|`` above ``min_speed``) update it: at rest
the sign of the velocity carries no information. The forgetting factor follows the real sample spacing.
"""

from __future__ import annotations

import numpy as np

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
        self.t_data = np.where(moving, np.where(np.isnan(self.t_data), t, (1.0 - a) * self.t_data + a * t),
                               self.t_data)
        self.t_last = np.where(moving, t, self.t_last)

    @property
    def coulomb(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.theta[:, 3], np.nan)

    @property
    def coulomb_var(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.covariance()[:, 3, 3], np.nan)

    @property
    def viscous(self) -> np.ndarray:
        return np.where(self.rls.count > 20, self.rls.theta[:, 4], np.nan)
