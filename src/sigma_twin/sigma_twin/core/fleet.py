"""Fleet-wide batch forecast: the onset-and-growth model (``growth.GrowthTrend``) for many rows on a common epoch grid.

The cloud holds every robot's health features on the twin's epoch grid, so a fleet batch sees one time axis shared by
all rows (a missing point is NaN). That makes the same model much cheaper than the per-robot ring buffer path:

* **Suffix sums as matrix products.** Every candidate onset j needs sums over the later points i of
  ``w_i (tau_i - tau_j)^k`` and ``y_i (tau_i - tau_j)^k``. With a common ``tau`` they are ``w @ K_k`` and ``y @ K_k``
  with ``K_k[i, j] = (tau_i - tau_j)^k`` for i > j: a handful of (rows x m) @ (m x m) BLAS products, and when a chunk
  has no gaps the point sums are one row shared by all rows.
* **The 3x3 algebra without square roots.** A candidate's marginal likelihood needs ``b^T A^-1 b`` and ``log|A|``,
  written with the Schur complement of the level; posterior means and Cholesky factors are computed only for the
  candidates that get Monte Carlo draws.
* **"No onset" draws in closed form.** A "no onset" draw is a constant level about the mean: it is at the limit now
  (time 0) with probability ``P(e >= gap / sd)`` and never otherwise, so the number of its zeros is one binomial
  draw per row. Only onset draws (a few per cent of a healthy fleet's) are sampled (float32) and sorted.
* Quantiles, risk and the evidence test then come from per-row counts and the sorted onset draws: the same order
  statistics the reference takes from its (rows x samples) array, without building it.

The result has the reference's distribution (``test_fleet_forecast.py`` compares both on a small fleet: mixture
weights to rounding, quantiles and risk within Monte Carlo error); it is not the same random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sigma_twin.core.growth import onset_posterior, prior_precisions
from sigma_twin.core.params import PrognosisParams

Arr = np.ndarray
_SF = np.vectorize(lambda x: 0.5 * math.erfc(x / math.sqrt(2.0)), otypes=[float])  # standard normal P(e >= x)


@dataclass
class FleetForecast:
    """Per row: time to the limit [h from now] as 5/50/95 % quantiles (inf = beyond the horizon or never, NaN = not
    ready), risk = P(limit within the risk horizon), enough history, evidence of degradation, "no onset" weight."""

    q05: Arr
    q50: Arr
    q95: Arr
    risk: Arr
    ready: Arr
    evidence: Arr
    weight_none: Arr


@dataclass(frozen=True)
class FleetTrend:
    """One health feature's trend settings, as ``GrowthTrend`` takes them."""

    params: PrognosisParams
    rising: bool
    scale: float
    correlation_time: float = 0.0
    min_points: int = 6

    @property
    def inflation(self) -> float:
        return max(1.0, self.correlation_time / self.params.epoch) * self.params.variance_inflation

    @property
    def lag_h(self) -> float:
        return self.params.lag_share * self.correlation_time / 3600.0


def _kernels(tau: Arr) -> list[Arr]:
    """K_k[i, j] = (tau_i - tau_j)^k for i > j (later points), else 0; k = 0..4."""
    m = tau.shape[0]
    later = np.tri(m, m, -1, dtype=bool)  # [i, j] True for i > j
    diff = np.where(later, tau[:, None] - tau[None, :], 0.0)
    out = [later.astype(float)]
    for _ in range(4):
        out.append(out[-1] * diff)
    return out


def mixture(trend: FleetTrend, times_h: Arr, values: Arr, now_h: float) -> dict[str, Arr]:
    """The onset mixture of ``GrowthTrend.mixture`` for rows on the common grid ``times_h`` (ascending):
    per row and candidate the log posterior weight terms and the pieces the Monte Carlo needs."""
    p = trend.params
    age = now_h - np.asarray(times_h, dtype=float)
    in_window = (age >= -1e-9) & (age <= p.growth_window)
    tau = np.where(in_window, -age - trend.lag_h, 0.0)
    y = np.asarray(values, dtype=float)
    w = np.isfinite(y) & in_window[None, :]
    wf = w.astype(float)
    sign = 1.0 if trend.rising else -1.0
    ys = np.where(w, sign * np.nan_to_num(y) / trend.scale, 0.0)
    count = wf.sum(axis=1)
    ybar = ys.sum(axis=1) / np.maximum(count, 1.0)
    yc = (ys - ybar[:, None]) * wf
    ks = _kernels(tau)
    # no gaps: the point sums are the same for every row (one row shared by all)
    u = [k.sum(axis=0)[None, :] for k in ks] if w.all() else [wf @ k for k in ks]
    uy1, uy2 = yc @ ks[1], yc @ ks[2]
    yy = (yc * yc).sum(axis=1)
    nn = count[:, None]
    # first pass: lightly regularised least squares per candidate, its fit = (uy1, uy2) S^-1 (uy1, uy2)^T with S the
    # Schur complement of the level (the level is 0 after centering)
    reg = 1e-6 * (nn + 1.0)
    inv0 = 1.0 / (nn + reg)
    s11 = u[2] + reg - u[1] * u[1] * inv0
    s12 = u[3] - u[1] * u[2] * inv0
    s22 = u[4] + reg - u[2] * u[2] * inv0
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = (s22 * uy1 * uy1 - 2.0 * s12 * uy1 * uy2 + s11 * uy2 * uy2) / (s11 * s22 - s12 * s12)
    rss = np.maximum(yy[:, None] - fit, 0.0)
    # candidate onsets: every epoch from a row's first point to its last, gaps included (uniform in time, as
    # GrowthTrend's grid); an epoch without a point still splits the later points from the earlier ones
    first_i = np.argmax(w, axis=1)
    last_i = w.shape[1] - 1 - np.argmax(w[:, ::-1], axis=1)
    col = np.arange(w.shape[1])[None, :]
    valid = w.any(axis=1)[:, None] & (col >= first_i[:, None]) & (col <= last_i[:, None]) & in_window[None, :]
    rss_best = np.min(np.where(valid, rss, yy[:, None]), axis=1, initial=np.inf)
    rss_best = np.minimum(rss_best, yy)
    dof = np.maximum(count - 3.0, 1.0)
    sigma2 = np.maximum(rss_best / dof * dof / np.maximum(dof - 2.0, 1.0), p.noise_floor ** 2) * trend.inflation
    # Bayesian pass with priors c0 ~ N(0, 100^2), a ~ N(0, slope_prior^2), b ~ N(0, curvature_prior^2), written as
    # s2 * A = M + s2 * P: log_ml = 0.5 b^T A^-1 b - 0.5 log|A| with b = (0, uy1, uy2) / s2
    pc0, pa, pb = prior_precisions(p)
    s2 = sigma2[:, None]
    a00 = nn + s2 * pc0
    inv0 = 1.0 / a00
    s11 = u[2] + s2 * pa - u[1] * u[1] * inv0
    s12 = u[3] - u[1] * u[2] * inv0
    s22 = u[4] + s2 * pb - u[2] * u[2] * inv0
    det2 = s11 * s22 - s12 * s12
    quad = (s22 * uy1 * uy1 - 2.0 * s12 * uy1 * uy2 + s11 * uy2 * uy2) / det2
    log_ml = 0.5 * quad / s2 - 0.5 * (np.log(a00 * det2) - 3.0 * np.log(s2))
    weight, weight_none = onset_posterior(log_ml, valid, count, sigma2, p)
    first = np.where(count > 0, np.min(np.where(w, tau[None, :], np.inf), axis=1, initial=np.inf), 0.0)
    span = np.where(count > 0, -first - trend.lag_h, 0.0)
    return {"weight": weight, "weight_none": weight_none, "u": u, "uy1": uy1, "uy2": uy2,
            "tau": tau, "ybar": ybar, "count": count, "sigma2": sigma2, "valid": valid,
            "ready": (count >= trend.min_points) & (span >= p.min_history)}


def _draw_onsets(trend: FleetTrend, mix: dict[str, Arr], counts: Arr, lim: Arr,
                 rng: np.random.Generator) -> tuple[Arr, Arr, Arr]:
    """Onset draws: (row of each draw, time to the limit [h], slope now), grouped by row. ``counts`` (n, m)."""
    p = trend.params
    rows, cand = np.nonzero(counts)
    reps = counts[rows, cand]
    u = mix["u"]
    s2 = mix["sigma2"][rows]

    def at(x: Arr) -> Arr:
        return x[rows if x.shape[0] > 1 else 0, cand]

    u1, u2, u3, u4 = at(u[1]), at(u[2]), at(u[3]), at(u[4])
    pc0, pa, pb = 1.0 / 100.0 ** 2, 1.0 / p.slope_prior ** 2, 1.0 / p.curvature_prior ** 2
    # posterior precision A (the candidate's 3x3) and its Cholesky factor, as the reference's _chol3
    a00, a01, a02 = mix["count"][rows] / s2 + pc0, u1 / s2, u2 / s2
    a11, a12, a22 = u2 / s2 + pa, u3 / s2, u4 / s2 + pb
    l00 = np.sqrt(np.maximum(a00, 1e-300))
    l10, l20 = a01 / l00, a02 / l00
    l11 = np.sqrt(np.maximum(a11 - l10 * l10, 1e-300))
    l21 = (a12 - l20 * l10) / l11
    l22 = np.sqrt(np.maximum(a22 - l20 * l20 - l21 * l21, 1e-300))
    z1 = mix["uy1"][rows, cand] / s2 / l11
    z2 = (mix["uy2"][rows, cand] / s2 - l21 * z1) / l22
    mu2 = z2 / l22
    mu1 = (z1 - l21 * mu2) / l11
    mu0 = (-l10 * mu1 - l20 * mu2) / l00
    u_now = np.maximum(-mix["tau"][cand], 0.0)
    table = np.stack([mu0, mu1, mu2, 1.0 / l00, l10, l20, 1.0 / l11, l21, 1.0 / l22, u_now,
                      lim[rows]]).astype(np.float32)
    idx = np.repeat(np.arange(rows.shape[0]), reps)
    mu0, mu1, mu2, i00, c10, c20, i11, c21, i22, u_now, lim_d = table[:, idx]
    e0, e1, e2 = rng.standard_normal((3, idx.shape[0]), dtype=np.float32)
    d2 = e2 * i22  # L^T d = e (backward substitution): d ~ N(0, A^-1)
    d1 = (e1 - c21 * d2) * i11
    d0 = (e0 - c10 * d1 - c20 * d2) * i00
    c0 = mu0 + d0
    a = np.maximum(mu1 + d1, 0.0)
    b = mu2 + d2
    gap = lim_d - (c0 + (a + b * u_now) * u_now)
    sl = a + 2.0 * b * u_now
    disc = sl * sl + 4.0 * b * np.maximum(gap, 0.0)
    den = sl + np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ttf = np.where(gap <= 0.0, 0.0, np.where((disc >= 0.0) & (den > 0.0), 2.0 * gap / den, np.inf))
    return np.repeat(rows, reps), ttf.astype(np.float32), sl


def _forecast_chunk(trend: FleetTrend, times_h: Arr, values: Arr, limit: Arr, now_h: float,
                    rng: np.random.Generator) -> FleetForecast:
    p = trend.params
    mix = mixture(trend, times_h, values, now_h)
    n, m = mix["weight"].shape
    s_n = p.samples
    sign = 1.0 if trend.rising else -1.0
    lim = sign * np.asarray(limit, dtype=float) / trend.scale - mix["ybar"]
    probs = np.concatenate([mix["weight"], mix["weight_none"][:, None]], axis=1)
    probs = np.where(np.isfinite(probs), probs, 0.0)
    probs[:, -1] = np.where(probs.sum(axis=1) > 0, probs[:, -1], 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    counts = rng.multinomial(s_n, probs)  # (n, m + 1); the last column is "no onset"
    # "no onset": a level about the mean (sd0), no growth; at the limit now with P(e >= lim / sd0), else never
    sd0 = np.sqrt(mix["sigma2"] / np.maximum(mix["count"], 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_zero = np.where(sd0 > 0, _SF(np.where(sd0 > 0, lim / sd0, 0.0)), (lim <= 0).astype(float))
    zeros_none = rng.binomial(counts[:, -1], np.clip(p_zero, 0.0, 1.0))
    row, ttf, slope = _draw_onsets(trend, mix, counts[:, :m], lim, rng)
    ttf[ttf > p.horizon] = np.inf
    k_row = counts[:, :m].sum(axis=1)
    start = np.concatenate([[0], np.cumsum(k_row)[:-1]])
    # sort each row's onset draws: one sort on row + (a monotone map of the time into [0, 0.75])
    h = p.horizon
    key = row + np.where(np.isfinite(ttf), ttf / (2.0 * h), 0.75)
    ttf = ttf[np.argsort(key, kind="stable")]
    qs = []
    for f in (0.05, 0.5, 0.95):
        k = min(int(f * s_n), s_n - 1)
        j = k - zeros_none
        inside = (j >= 0) & (j < k_row)
        val = np.where(j < 0, 0.0, np.inf)
        if ttf.size:
            val = np.where(inside, ttf[np.clip(start + j, 0, ttf.size - 1)].astype(float), val)
        qs.append(np.where(mix["ready"], val, np.nan))
    within = zeros_none + np.bincount(row, weights=ttf <= p.risk_horizon, minlength=n)
    zeros = zeros_none + np.bincount(row, weights=ttf == 0.0, minlength=n)
    # evidence: the draws' slope now, "no onset" draws counting as slope 0 (as the reference's array holds them)
    sl = np.where(np.isfinite(slope), slope, 0.0).astype(float)
    mean_sl = np.bincount(row, weights=sl, minlength=n) / s_n
    var_sl = np.maximum(np.bincount(row, weights=sl * sl, minlength=n) / s_n - mean_sl * mean_sl, 0.0)
    if m:
        slope_z = mean_sl / np.maximum(np.sqrt(var_sl), 1e-12)
        evidence = (slope_z >= p.evidence_z) | (zeros / s_n >= 0.5) | (p.evidence_z <= 0)
    else:
        evidence = np.zeros(n, dtype=bool)
    ready = mix["ready"]
    risk = np.where(ready, np.where(evidence, within / s_n, 0.0), np.nan)
    return FleetForecast(qs[0], qs[1], qs[2], risk, ready, evidence, mix["weight_none"])


def fleet_forecast(trend: FleetTrend, times_h: Arr, values: Arr, limit: Arr, now_h: float,
                   rng: np.random.Generator, chunk: int = 2000) -> FleetForecast:
    """Forecast every row of ``values`` (rows x epochs on the ascending grid ``times_h`` [h], NaN = no point) at
    ``now_h`` against ``limit`` (per row, the feature's units), in chunks of ``chunk`` rows (memory)."""
    values = np.asarray(values, dtype=float)
    times_h = np.asarray(times_h, dtype=float)
    limit = np.broadcast_to(np.asarray(limit, dtype=float), (values.shape[0],))
    if values.ndim != 2 or times_h.shape != (values.shape[1],):
        raise ValueError(f"values must be (rows, epochs) and times_h (epochs,): got {values.shape}, {times_h.shape}")
    if times_h.size > 1 and np.any(np.diff(times_h) <= 0):
        raise ValueError("times_h must be strictly ascending")
    parts = [_forecast_chunk(trend, times_h, values[a:a + chunk], limit[a:a + chunk], now_h, rng)
             for a in range(0, values.shape[0], max(1, chunk))]
    if not parts:
        empty = np.zeros(0)
        return FleetForecast(empty, empty, empty, empty, empty.astype(bool), empty.astype(bool), empty)
    return FleetForecast(*(np.concatenate([getattr(f, k) for f in parts]) for k in
                           ("q05", "q50", "q95", "risk", "ready", "evidence", "weight_none")))
