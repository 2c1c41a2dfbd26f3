"""Health-feature trends and the time at which they cross a limit, by vectorised Monte Carlo.

Each row keeps a short history of one estimated health feature (thermal gain, friction, capacity, sensor bias), one
point per epoch with the estimator's variance. A Bayesian quadratic ``y(tau) = c0 + c1 tau + c2 tau^2`` (tau in hours
from now) is fitted over the recent window; its posterior is Gaussian, so coefficient draws give feature paths whose
first crossing of the limit is closed-form (a quadratic's root). The draws' crossing times are the time-to-limit
distribution: quantiles, risk within a horizon, and samples for the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_twin.core.params import PrognosisParams


@dataclass
class Forecast:
    """Time to the limit per row [h from now]: quantiles (inf = beyond the horizon or never), risk, draws."""

    q05: np.ndarray
    q50: np.ndarray
    q95: np.ndarray
    risk: np.ndarray  # P(limit within the risk horizon)
    ready: np.ndarray  # enough history to forecast
    samples: np.ndarray  # (n, S) draws of the time to the limit [h]
    evidence: np.ndarray | None = None  # (n,) evidence of degradation (risk counts only then); None = every row


class FeatureTrend:
    """Per-row history of one feature (ring buffer) and the forecast of its crossing of a limit."""

    def __init__(self, n: int, params: PrognosisParams, rising: bool, scale: float, correlation_time: float = 0.0,
                 min_points: int = 6, capacity: int = 512) -> None:
        """``scale``: the feature's typical range (priors, noise floor); ``correlation_time`` [s]: how long the
        estimator feeding it remembers (consecutive points that close share their noise)."""
        self.n, self.params, self.rising, self.scale = n, params, rising, float(scale)
        self.inflation = max(1.0, correlation_time / params.epoch) * params.variance_inflation
        self.min_points = min_points
        self.cap = capacity
        self.t = np.full((n, capacity), np.nan)  # h
        self.y = np.full((n, capacity), np.nan)
        self.v = np.full((n, capacity), np.nan)
        self.head = 0
        self.first = np.full(n, np.nan)
        self.baseline = np.full(n, np.nan)
        self.lag_h = 0.0  # how late the points are placed on the truth's timeline (``GrowthTrend``)

    def record(self, t_h: float, value: np.ndarray, var: np.ndarray, fresh: np.ndarray | None = None,
               at: np.ndarray | None = None) -> None:
        """One epoch: feature value and its variance per row. Rows that are NaN, or not ``fresh`` (the estimator saw
        no new data since the last point: a repeated value is no new evidence), are skipped. ``at`` [h]: per row, the
        time the value stands for when the estimator knows it (its data's weighted mean time; default ``t_h``)."""
        ok = np.isfinite(value) & np.isfinite(var) & (True if fresh is None else fresh)
        when = t_h if at is None else np.minimum(np.where(np.isfinite(at), at, t_h), t_h)
        k = self.head % self.cap
        self.t[:, k] = np.where(ok, when, np.nan)
        self.y[:, k] = np.where(ok, value, np.nan)
        self.v[:, k] = np.where(ok, np.maximum(var, 0.0), np.nan)
        self.head += 1
        self.first = np.where(ok & np.isnan(self.first), t_h, self.first)
        self.baseline = np.where(ok & np.isnan(self.baseline), value, self.baseline)

    def posterior(self, t_h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean (n,3), covariance (n,3,3), ready (n,)) of the quadratic's coefficients around ``t_h``."""
        p = self.params
        tau = self.t - t_h
        w = (np.isfinite(self.y) & (tau >= -p.trend_window) & (tau <= 1e-9)).astype(float)
        tau0, y0 = np.nan_to_num(tau), np.nan_to_num(self.y)
        x = np.stack([np.ones_like(tau0), tau0, tau0 * tau0], axis=2)  # (n, m, 3)
        xtx = np.einsum("nm,nmi,nmj->nij", w, x, x)
        xty = np.einsum("nm,nmi,nm->ni", w, x, y0)
        s = self.scale
        prior = np.diag([1.0 / (100.0 * s) ** 2, 1.0 / (p.slope_prior * s) ** 2, 1.0 / (p.curvature_prior * s) ** 2])
        # first pass: least squares (lightly regularised) for the residual scale
        a = xtx + prior * 1e-6 * (xtx[:, 0, 0, None, None] + 1.0)
        beta = np.linalg.solve(a, xty[..., None])[..., 0]
        resid = y0 - np.einsum("nmi,ni->nm", x, beta)
        count = w.sum(axis=1)
        dof = np.maximum(count - 3.0, 1.0)
        s2 = (w * resid * resid).sum(axis=1) / dof
        # The scatter about the fit is the noise of the points (inflated: consecutive filter outputs are correlated);
        # the filter's own variance is the uncertainty of the level, added to the intercept only.
        v_est = np.nansum(w * np.nan_to_num(self.v), axis=1) / np.maximum(count, 1.0)
        sigma2 = np.maximum(s2 * dof / np.maximum(dof - 2.0, 1.0), (p.noise_floor * s) ** 2) * self.inflation
        prec = xtx / sigma2[:, None, None] + prior
        cov = np.linalg.inv(prec)
        mean = np.einsum("nij,nj->ni", cov, xty / sigma2[:, None])
        cov[:, 0, 0] += v_est
        span = np.where(count > 0, t_h - np.nanmin(np.where(w > 0, self.t, np.nan), axis=1, initial=np.inf), 0.0)
        ready = (count >= self.min_points) & (span >= p.min_history)
        return mean, cov, ready

    def current(self, t_h: float) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed feature value now and its variance (the fitted intercept)."""
        mean, cov, ready = self.posterior(t_h)
        return np.where(ready, mean[:, 0], np.nan), np.where(ready, cov[:, 0, 0], np.nan)

    def forecast(self, t_h: float, limit: np.ndarray, rng: np.random.Generator,
                 limit_std: float = 0.0) -> Forecast:
        """Distribution of the time until the feature reaches ``limit`` (per row), from ``t_h`` on. ``limit_std``: the
        limit's own relative uncertainty (log-normal, one limit per draw; 0 = the limit is known)."""
        p = self.params
        mean, cov, ready = self.posterior(t_h)
        chol = np.linalg.cholesky(cov + np.eye(3) * 1e-18)
        z = rng.standard_normal((self.n, p.samples, 3))
        c = mean[:, None, :] + np.einsum("nij,nsj->nsi", chol, z)
        sign = 1.0 if self.rising else -1.0
        lim = np.broadcast_to(np.asarray(limit, dtype=float), (self.n,))[:, None]
        if limit_std > 0.0:
            lim = lim * np.exp(limit_std * rng.standard_normal((self.n, p.samples)))
        ttf = first_crossing(sign * c[..., 0] - sign * lim, sign * c[..., 1], sign * c[..., 2])
        ttf = np.where(ttf > p.horizon, np.inf, ttf)
        # The risk (hence a maintenance window) needs evidence of degradation: the slope toward the limit must stand
        # out of its own uncertainty (the scatter of the estimates: a healthy unit's spread), or the level must be at
        # the limit. The RUL quantiles stay the trend's extrapolation (an estimate, not a decision).
        slope_z = sign * mean[:, 1] / np.sqrt(np.maximum(cov[:, 1, 1], 1e-300))
        evidence = (slope_z >= p.evidence_z) | (sign * (mean[:, 0] - np.asarray(limit)) >= 0.0) | (p.evidence_z <= 0)
        ttf = np.where(ready[:, None], ttf, np.nan)
        srt = np.sort(ttf, axis=1)
        q = [srt[:, min(int(f * p.samples), p.samples - 1)] for f in (0.05, 0.5, 0.95)]
        risk = np.where(ready, np.where(evidence, (ttf <= p.risk_horizon).mean(axis=1), 0.0), np.nan)
        return Forecast(q[0], q[1], q[2], risk, ready, ttf, evidence)


def median_given_crossing(samples: np.ndarray) -> np.ndarray:
    """Per row: the median time to the limit among the draws that reach it within the horizon (the point RUL "if it
    fails"); inf where no draw does, NaN where the row has no forecast. The plain median is inf whenever half the
    draws never reach the limit (no onset yet, a levelling path), which carries no time to compare with."""
    x = np.asarray(samples, dtype=float)
    fin = np.isfinite(x)
    k = fin.sum(axis=1)
    srt = np.sort(np.where(fin, x, np.inf), axis=1)  # finite draws first, in order
    lo = srt[np.arange(len(x)), np.maximum((k - 1) // 2, 0)] if x.shape[1] else np.zeros(len(x))
    hi = srt[np.arange(len(x)), np.minimum(k // 2, max(x.shape[1] - 1, 0))] if x.shape[1] else np.zeros(len(x))
    med = np.where(k > 0, 0.5 * (lo + hi), np.inf)
    return np.where(np.isnan(x).all(axis=1), np.nan, med)


def first_crossing(c0: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Smallest tau >= 0 with c0 + c1 tau + c2 tau^2 >= 0 (0 if already there, inf if never), elementwise."""
    quad = np.abs(c2) > 1e-12
    c2q = np.where(quad, c2, 1.0)  # no division by (near-)zero: no inf/NaN or subnormal slow paths
    c1l = np.where(quad | (c1 <= 0), 1.0, c1)
    disc = c1 * c1 - 4.0 * c2q * c0
    sq = np.sqrt(np.maximum(disc, 0.0))
    r1 = (-c1 - sq) / (2.0 * c2q)
    r2 = (-c1 + sq) / (2.0 * c2q)
    big = np.inf
    quad_root = np.minimum(np.where(r1 >= 0, r1, big), np.where(r2 >= 0, r2, big))
    lin = -c0 / c1l
    lin_root = np.where((c1 > 0) & (lin >= 0), lin, big)
    cand = np.where(quad, np.where(disc >= 0, quad_root, big), lin_root)
    return np.where(c0 >= 0, 0.0, cand)
