"""Recursive least squares with exponential forgetting, vectorised over many independent rows (actuators, robots).

Each row ``i`` estimates ``theta_i`` in ``y_i = x_i . theta_i + e_i``. One call updates every row whose ``mask`` is
set; rows never mix. The residual variance is tracked per row so that ``covariance`` is in the units of theta.
"""

from __future__ import annotations

import numpy as np


class VectorRLS:
    """``n`` independent RLS estimators of ``p`` parameters each."""

    def __init__(self, n: int, p: int, theta0: np.ndarray, p0: float | np.ndarray, forgetting: float,
                 noise0: float = 1.0) -> None:
        if not 0.0 < forgetting <= 1.0:
            raise ValueError(f"forgetting factor {forgetting} not in (0, 1]")
        self.n, self.p, self.lam = n, p, float(forgetting)
        self.theta = np.broadcast_to(np.asarray(theta0, dtype=float), (n, p)).copy()
        p0 = np.broadcast_to(np.asarray(p0, dtype=float), (p,))
        self.P = np.tile(np.diag(p0), (n, 1, 1))
        self.noise = np.full(n, float(noise0))  # EWMA of squared a-priori residuals
        self.count = np.zeros(n, dtype=int)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """A-priori prediction ``x . theta`` per row."""
        return np.einsum("ij,ij->i", x, self.theta)

    def update(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None,
               forgetting: float | None = None) -> np.ndarray:
        """One step for the rows in ``mask`` (all when None), optionally with this step's own forgetting factor
        (irregular sample spacing); returns the a-priori residual (0 where masked out)."""
        mask = np.ones(self.n, dtype=bool) if mask is None else mask & np.isfinite(y) & np.isfinite(x).all(axis=1)
        lam = self.effective_forgetting(forgetting)[mask]
        err = np.where(mask, y - self.predict(np.where(mask[:, None], x, 0.0)), 0.0)
        if not mask.any():
            return err
        xs, ps = x[mask], self.P[mask]
        px = np.einsum("ijk,ik->ij", ps, xs)
        denom = lam + np.einsum("ij,ij->i", xs, px)
        gain = px / denom[:, None]
        self.theta[mask] += gain * err[mask, None]
        self.P[mask] = (ps - np.einsum("ij,ik->ijk", gain, px)) / lam[:, None, None]
        # keep P symmetric and bounded (forgetting without excitation lets it grow without limit)
        self.P[mask] = 0.5 * (self.P[mask] + np.swapaxes(self.P[mask], 1, 2))
        tr = np.trace(self.P[mask], axis1=1, axis2=2)
        cap = np.minimum(1.0, 1e6 / np.maximum(tr, 1e-300))
        self.P[mask] *= cap[:, None, None]
        a = np.maximum(1.0 - lam, 1.0 / (1.0 + self.count[mask]))
        self.noise[mask] = (1.0 - a) * self.noise[mask] + a * err[mask] ** 2
        self.count[mask] += 1
        return err

    def effective_forgetting(self, forgetting: float | None = None) -> np.ndarray:
        """Per row, the forgetting factor the next update applies: 1 (growing memory) until the row has seen one
        memory of samples — plain least squares at start-up, so the early estimates do not wander from the initial
        guess (a wandering start looks like a trend) — then ``forgetting`` (default: the estimator's)."""
        lam0 = self.lam if forgetting is None else float(forgetting)
        return np.where(self.count < 1.0 / max(1.0 - lam0, 1e-12), 1.0, lam0)

    def covariance(self) -> np.ndarray:
        """Covariance of theta per row, ``P * sigma^2`` (sigma^2 the tracked residual variance)."""
        return self.P * self.noise[:, None, None]


def forgetting_for(memory: float, step: float) -> float:
    """Forgetting factor whose effective memory ``1 / (1 - lambda)`` steps spans ``memory`` seconds."""
    return 1.0 - min(step / max(memory, step), 0.5)
