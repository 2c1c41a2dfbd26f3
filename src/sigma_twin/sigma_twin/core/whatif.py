"""What-if forecasts: the estimated thermal model driven by a hypothetical workload, vectorised Monte Carlo.

Given a workload scenario (a mean squared current per motor, an ambient temperature, optionally a cooling failure
that multiplies R_ha) the two-node model with each motor's *estimated* parameters (drawn from the estimators'
covariance) is integrated forward from the current temperatures. The result per motor: draws of the time until the
winding reaches its limit (inf if it settles below it within the horizon) and P(limit within the horizon).
This is what ``twin/forecast`` answers and what ``sigma_core`` asks before accepting a task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_twin.core.thermal import COPPER_ALPHA


@dataclass
class WhatIf:
    """Per motor: time to the limit [s] as quantiles, P(limit within the horizon), and the draws."""

    q05: np.ndarray
    q50: np.ndarray
    q95: np.ndarray
    risk: np.ndarray
    samples: np.ndarray  # (n, S) [s]


def time_to_limit(theta_w: np.ndarray, cov_w: np.ndarray, theta_h: np.ndarray, cov_h: np.ndarray,
                  t_winding: np.ndarray, t_housing: np.ndarray, mean_sq_current: np.ndarray, ambient: float,
                  limit: float, horizon: float, rng: np.random.Generator, samples: int = 200,
                  cooling_factor: float = 1.0, dt: float = 2.0) -> WhatIf:
    """Integrate ``samples`` parameter draws per motor at a constant ``mean_sq_current`` [A^2] for ``horizon`` s.

    ``theta_w = [a1, a2]``, ``theta_h = [b1, b2]`` per motor (see ``sigma_twin.core.thermal``) with covariances;
    ``cooling_factor`` > 1 divides b2 (R_ha grows). Explicit Euler with ``dt`` well below the winding time constant.
    """
    n = theta_w.shape[0]
    draws = []
    for theta, cov in ((theta_w, cov_w), (theta_h, cov_h)):
        chol = np.linalg.cholesky(cov + np.eye(2) * 1e-18)
        z = rng.standard_normal((n, samples, 2))
        draws.append(np.abs(theta[:, None, :] + np.einsum("nij,nsj->nsi", chol, z)))
    a1, a2 = draws[0][..., 0], draws[0][..., 1]
    b1, b2 = draws[1][..., 0], draws[1][..., 1] / cooling_factor
    tw = np.repeat(t_winding[:, None], samples, axis=1).astype(float)
    th = np.repeat(t_housing[:, None], samples, axis=1).astype(float)
    i2 = np.asarray(mean_sq_current, dtype=float)[:, None] * np.ones((1, samples))
    h = min(dt, 0.2 / float(np.max(a2 + b1 + b2, initial=1e-9)))
    steps = int(np.ceil(horizon / h))
    ttl = np.where(tw >= limit, 0.0, np.inf)
    for k in range(1, steps + 1):
        dtw = a1 * i2 * (1.0 + COPPER_ALPHA * (tw - 25.0)) - a2 * (tw - th)
        dth = b1 * (tw - th) - b2 * (th - ambient)
        tw, th = tw + h * dtw, th + h * dth
        ttl = np.where(np.isinf(ttl) & (tw >= limit), k * h, ttl)
        if k % 64 == 0 and np.all(np.isfinite(ttl) | ((np.abs(dtw) < 1e-5) & (np.abs(dth) < 1e-5))):
            break  # every draw crossed or has settled
    srt = np.sort(ttl, axis=1)
    q = [srt[:, min(int(f * samples), samples - 1)] for f in (0.05, 0.5, 0.95)]
    return WhatIf(q[0], q[1], q[2], (ttl <= horizon).mean(axis=1), ttl)
