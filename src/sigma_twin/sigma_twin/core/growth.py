"""Onset-and-growth model of a health feature: constant until an unknown onset, then monotone wear growth.

Every slow fault the twin forecasts (cooling loss, winding drift, bearing friction, capacity fade, sensor bias drift)
moves its health feature the same way physically: nothing until the fault starts, then a growth that never reverses
and may accelerate. The model per row is therefore

    y(tau) = c0 + a u + b u^2,   u = max(tau - tau_on, 0),   a >= 0     (tau in hours from now)

with the onset ``tau_on`` unknown: the candidates are a grid of one epoch (from each row's first point to its last;
uniform in time), plus "no onset yet" (a constant). For each candidate the model is linear in (c0, a, b) with
Gaussian priors, so its posterior and marginal likelihood are closed-form; the candidates' posterior weights (onset
prior x marginal likelihood) make a mixture. The pre-onset
points pin the level c0, which the generic quadratic (``trend.FeatureTrend``) had to extrapolate from its window;
the growth coefficients are learnt from the points after the onset only. All sums over candidates come from suffix
sums of powers of tau (taken at each candidate's first later point), so one forecast is O(rows x (points + grid));
3x3 solves are written out (Cholesky) elementwise.

The estimators feeding a trend remember ``correlation_time`` (exponential forgetting): their output follows a ramp
``lag_share x memory`` late, so points are placed that much earlier when fitted (the truth's timeline) and the
forecast extrapolates from now. Monte Carlo draws pick a candidate by weight, then (c0, a, b) from its Gaussian
(the slope clipped at zero: wear does not heal; a negative curvature levels the path off); the first crossing of
the limit is a closed-form root. Each row's draws are returned in random order (exchangeable; round 10).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sigma_twin.core.params import PrognosisParams
from sigma_twin.core.trend import FeatureTrend, Forecast

Arr = np.ndarray
Chol = tuple[Arr, Arr, Arr, Arr, Arr, Arr]


def _chol3(a00: Arr, a01: Arr, a02: Arr, a11: Arr, a12: Arr, a22: Arr) -> Chol:
    """Elementwise Cholesky factor of symmetric positive definite 3x3 matrices (lower triangle entries)."""
    l00 = np.sqrt(np.maximum(a00, 1e-300))
    l10 = a01 / l00
    l20 = a02 / l00
    l11 = np.sqrt(np.maximum(a11 - l10 * l10, 1e-300))
    l21 = (a12 - l20 * l10) / l11
    l22 = np.sqrt(np.maximum(a22 - l20 * l20 - l21 * l21, 1e-300))
    return l00, l10, l20, l11, l21, l22


def _forward(chol: Chol, b0: Arr, b1: Arr, b2: Arr) -> tuple[Arr, Arr, Arr]:
    """Solve L z = b (elementwise)."""
    l00, l10, l20, l11, l21, l22 = chol
    z0 = b0 / l00
    z1 = (b1 - l10 * z0) / l11
    z2 = (b2 - l20 * z0 - l21 * z1) / l22
    return z0, z1, z2


def _backward(chol: Chol, z0: Arr, z1: Arr, z2: Arr) -> tuple[Arr, Arr, Arr]:
    """Solve L^T x = z (elementwise)."""
    l00, l10, l20, l11, l21, l22 = chol
    x2 = z2 / l22
    x1 = (z1 - l21 * x2) / l11
    x0 = (z0 - l10 * x1 - l20 * x2) / l00
    return x0, x1, x2


def onset_grid(tau: Arr, valid: Arr, step_h: float) -> tuple[Arr, Arr, Arr, Arr]:
    """The candidate onsets: a grid of ``step_h`` back from the newest point of any row, shared by the rows (ascending),
    each valid for a row between its first and last point. Returns (first point's tau, row has points, grid (n, k),
    valid (n, k))."""
    n = tau.shape[0]
    first = np.min(np.where(valid, tau, np.inf), axis=1, initial=np.inf)
    last = np.max(np.where(valid, tau, -np.inf), axis=1, initial=-np.inf)
    has = np.isfinite(first)
    newest = float(np.max(np.where(has, last, -np.inf), initial=-np.inf)) if has.any() else 0.0
    k_max = int(np.floor((newest - float(np.min(np.where(has, first, newest), initial=newest))) / step_h + 1e-6)) + 1
    tau_c = np.broadcast_to(newest - step_h * np.arange(k_max)[::-1], (n, k_max))
    valid_c = (has[:, None] & (tau_c >= np.where(has, first, 0.0)[:, None] - 1e-6 * step_h)
               & (tau_c <= np.where(has, last, 0.0)[:, None] + 1e-6 * step_h))
    return first, has, tau_c, valid_c


def prior_precisions(p: PrognosisParams) -> tuple[float, float, float]:
    """Prior precisions of the growth model's level, slope and curvature: c0 ~ N(0, 100^2), a ~ N(0, slope_prior^2),
    b ~ N(0, curvature_prior^2) (feature scale, hours)."""
    return 1.0 / 100.0 ** 2, 1.0 / p.slope_prior ** 2, 1.0 / p.curvature_prior ** 2


def onset_posterior(log_ml: Arr, valid: Arr, count: Arr, sigma2: Arr, p: PrognosisParams) -> tuple[Arr, Arr]:
    """Posterior weights of each row's onset candidates (``log_ml``: their log marginal likelihoods, rows x
    candidates; ``valid`` the real ones) and of "no onset". The prior puts ``onset_prior`` evenly over the valid
    candidates (uniform in time) and the rest on "no onset", whose model is the level alone (``count`` points of
    noise ``sigma2``; the growth terms' prior cancels against their own |A| contribution)."""
    pc0, pa, pb = prior_precisions(p)
    log_ml_none = -0.5 * np.log(count / sigma2 + pc0) - 0.5 * np.log(pa) - 0.5 * np.log(pb)
    n_cand = np.maximum(valid.sum(axis=1), 1.0)
    lp = np.where(valid, np.log(p.onset_prior) - np.log(n_cand)[:, None] + log_ml, -np.inf)
    lp_none = np.log1p(-p.onset_prior) + log_ml_none
    top = np.maximum(np.max(lp, axis=1, initial=-np.inf), lp_none)
    wts = np.exp(lp - top[:, None])
    w_none = np.exp(lp_none - top)
    total = wts.sum(axis=1) + w_none
    return wts / total[:, None], w_none / total


class GrowthTrend(FeatureTrend):
    """``FeatureTrend`` whose forecast is the onset-and-growth mixture (same history, same ``Forecast``)."""

    def __init__(self, n: int, params: PrognosisParams, rising: bool, scale: float, correlation_time: float = 0.0,
                 min_points: int = 6, capacity: int = 512) -> None:
        super().__init__(n, params, rising, scale, correlation_time, min_points, capacity)
        self.lag_h = params.lag_share * correlation_time / 3600.0

    # --- the mixture over onsets -------------------------------------------------------------------------------
    def _ordered(self, t_h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Points in time order: tau [h, shifted by the lag, <= 0], y in scale units (sign: rising), weight, var."""
        p = self.params
        if self.head > self.cap:
            order = (np.arange(self.cap) + self.head) % self.cap
            t, y, v = self.t[:, order], self.y[:, order], self.v[:, order]
        else:
            t, y, v = self.t[:, :self.head], self.y[:, :self.head], self.v[:, :self.head]
        age = t_h - t
        w = np.isfinite(y) & (age >= -1e-9) & (age <= p.growth_window)
        sign = 1.0 if self.rising else -1.0
        tau = np.where(w, -age - self.lag_h, 0.0)
        ys = np.where(w, sign * np.nan_to_num(y) / self.scale, 0.0)
        return tau, ys, w.astype(float), np.where(w, np.nan_to_num(v), 0.0) / self.scale ** 2

    def mixture(self, t_h: float) -> dict[str, np.ndarray]:
        """Per row and candidate onset: posterior weight, mean and Cholesky factor of (c0, a, b), the onset's tau.
        Candidate index m (the last) is "no onset": a constant level. Units: feature scale, hours."""
        p = self.params
        tau, y, w, _var = self._ordered(t_h)
        count = w.sum(axis=1)
        ybar = (w * y).sum(axis=1) / np.maximum(count, 1.0)
        yc = (y - ybar[:, None]) * w
        # candidate onsets (round 6): a grid of one epoch's spacing back from the newest point, from each row's
        # first point to its last, not the points themselves. With onsets only at points, an onset inside a gap (a
        # dock visit, the hours between the rests that give sensor-bias points) had to be placed at the last point
        # before it: too early, and the fit then bent the path (b > 0) to meet the later points, which made the
        # forecasts early. The prior is uniform over the grid, i.e. uniform in time, not in points (dense stretches
        # no longer weigh more)
        first, has, tau_c, valid_c = onset_grid(tau, w > 0, p.epoch / 3600.0)
        sx1, sx2, sx11, sx12, sx22, sy1, sy2 = self._candidate_sums(tau, w, yc, tau_c)
        nn = count[:, None] * np.ones((1, tau_c.shape[1]))
        yy = (yc * yc).sum(axis=1)
        # first pass: noise from the residual scatter of the best candidate (lightly regularised least squares)
        reg = 1e-6 * (nn + 1.0)
        ch = _chol3(nn + reg, sx1, sx2, sx11 + reg, sx12, sx22 + reg)
        beta = _backward(ch, *_forward(ch, np.zeros_like(nn), sy1, sy2))
        fit = beta[1] * sy1 + beta[2] * sy2  # c0 = 0 after centering (ybar); beta^T X^T y
        rss = np.maximum(yy[:, None] - fit, 0.0)
        rss_best = np.min(np.where(valid_c, rss, yy[:, None]), axis=1, initial=np.inf)
        rss_best = np.minimum(rss_best, yy)
        dof = np.maximum(count - 3.0, 1.0)
        s2 = rss_best / dof
        sigma2 = np.maximum(s2 * dof / np.maximum(dof - 2.0, 1.0), p.noise_floor ** 2) * self.inflation
        # Bayesian pass: prior c0 ~ N(0, 100^2), a ~ N(0, slope_prior^2), b ~ N(0, curvature_prior^2)
        s2c = sigma2[:, None]
        pc0, pa, pb = prior_precisions(p)
        ch = _chol3(nn / s2c + pc0, sx1 / s2c, sx2 / s2c, sx11 / s2c + pa, sx12 / s2c, sx22 / s2c + pb)
        z = _forward(ch, np.zeros_like(nn), sy1 / s2c, sy2 / s2c)
        mean = _backward(ch, *z)
        log_ml = 0.5 * (z[0] ** 2 + z[1] ** 2 + z[2] ** 2) - (np.log(ch[0]) + np.log(ch[3]) + np.log(ch[5]))
        weight, weight_none = onset_posterior(log_ml, valid_c, count, sigma2, p)
        return {"weight": weight, "weight_none": weight_none, "mean": np.stack(mean, axis=2),
                "chol": ch, "tau_on": tau_c, "ybar": ybar, "count": count, "sigma2": sigma2, "valid": valid_c,
                "first": np.where(has, first, 0.0)}

    def _candidate_sums(self, tau: Arr, w: Arr, yc: Arr, tau_c: Arr) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr]:
        """Per row and candidate: the normal equations' sums of the post-onset regressors ``r1 = u``, ``r2 = u^2``
        (``u`` = time since the candidate) -- sum r1, sum r2, sum r1^2, sum r1 r2, sum r2^2, sum yc r1, sum yc r2 --
        over the points after it, from suffix sums of powers of tau (binomially shifted to each candidate)."""
        n, m = tau.shape
        k_max = tau_c.shape[1]
        pw, py = [w], [yc]  # powers of tau by products (uy[k] = sum over later points of yc u^k)
        for k in range(1, 5):
            pw.append(pw[-1] * tau)
            if k < 3:
                py.append(py[-1] * tau)
        # a candidate's sums run over the points after it: the first position later than it (positions are in time
        # order; empty positions take the time of the point before them)
        low = min(float(np.min(tau_c, initial=0.0)), float(np.min(tau, initial=0.0))) - 1.0
        filled = np.maximum.accumulate(np.where(w > 0, tau, low), axis=1)
        offset = 2.0 * (1.0 - low)  # rows side by side in one sorted array (tau <= 0 within each row)
        rows = np.arange(n)[:, None]
        pos = np.searchsorted((filled + rows * offset).ravel(), (tau_c + rows * offset).ravel(), side="right")
        pos = np.clip(pos.reshape(n, k_max) - rows * m, 0, m)

        def suffix(x: np.ndarray) -> np.ndarray:  # [j] = sum over positions >= j ([m] = 0), taken at pos
            c = np.concatenate([np.cumsum(x[:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1)
            return np.take_along_axis(c, pos, axis=1)

        sw = [suffix(x) for x in pw]
        sy = [suffix(x) for x in py]
        ntp: list[np.ndarray] = [np.ones_like(tau_c), -tau_c]  # powers of (-tau_c); [0] is never read
        for _ in range(3):
            ntp.append(ntp[-1] * ntp[1])
        binom = ((1,), (1, 1), (1, 2, 1), (1, 3, 3, 1), (1, 4, 6, 4, 1))

        def shifted(sums: list[np.ndarray], k: int) -> np.ndarray:
            """sum over later points of (tau - tau_c)^k (times y when ``sums`` are the y sums), binomially."""
            out = sums[k]
            for q in range(k):
                out = out + (binom[k][q] * ntp[k - q] if binom[k][q] != 1 else ntp[k - q]) * sums[q]
            return out

        u = [shifted(sw, k) for k in range(5)]
        uy = [shifted(sy, k) for k in range(3)]
        return u[1], u[2], u[2], u[3], u[4], uy[1], uy[2]

    def _ready(self, mix: dict[str, np.ndarray]) -> np.ndarray:
        span = np.where(mix["count"] > 0, -mix["first"] - self.lag_h, 0.0)
        return (mix["count"] >= self.min_points) & (span >= self.params.min_history)

    def current(self, t_h: float) -> tuple[np.ndarray, np.ndarray]:
        """The feature's level now (mixture mean over onsets, in the feature's units) and its variance."""
        mix = self.mixture(t_h)
        un = np.maximum(-mix["tau_on"], 0.0)
        mu = mix["mean"]
        lvl = mu[..., 0] + np.maximum(mu[..., 1], 0.0) * un + mu[..., 2] * un * un
        wt = mix["weight"]
        mean = (wt * lvl).sum(axis=1)  # "no onset" level: c0 = 0 after centering
        second = (wt * lvl * lvl).sum(axis=1)
        var_mix = np.maximum(second - mean * mean, 0.0) + mix["sigma2"] / np.maximum(mix["count"], 1.0)
        sign = 1.0 if self.rising else -1.0
        value = sign * (mean + mix["ybar"]) * self.scale
        ready = self._ready(mix)
        return np.where(ready, value, np.nan), np.where(ready, var_mix * self.scale ** 2, np.nan)

    def forecast(self, t_h: float, limit: np.ndarray, rng: np.random.Generator,
                 limit_std: float = 0.0, failure: Callable[[np.ndarray], np.ndarray] | None = None) -> Forecast:
        """Distribution of the time until the feature reaches ``limit`` (per row), from ``t_h`` on. ``limit_std``: the
        limit's own relative uncertainty (log-normal, one limit per draw; 0 = the limit is known). ``limit`` may hold
        several levels per row, (rows, levels): each draw's crossing of every level (one path, one limit factor) goes
        to ``failure``, which returns the draw's failure time (e.g. ``thermal.stretch_failure``)."""
        p = self.params
        mix = self.mixture(t_h)
        n, m = mix["tau_on"].shape
        s_n = p.samples
        sign = 1.0 if self.rising else -1.0
        levels = np.asarray(limit, dtype=float).reshape(n, -1)
        lim = sign * levels / self.scale - mix["ybar"][:, None]  # (rows, levels)
        # how many of each row's draws come from each candidate: one multinomial per row (the draws are
        # exchangeable, so counts are all the ordering needs); the last candidate is "no onset"
        probs = np.concatenate([mix["weight"], mix["weight_none"][:, None]], axis=1)
        probs = np.where(np.isfinite(probs), probs, 0.0)
        probs[:, -1] = np.where(probs.sum(axis=1) > 0, probs[:, -1], 1.0)
        probs /= probs.sum(axis=1, keepdims=True)
        counts = rng.multinomial(s_n, probs)  # (n, m + 1)
        cand = np.repeat(np.arange(n * (m + 1)), counts.ravel())  # row-major: row r owns draws r*S .. r*S+S-1
        onset = (cand % (m + 1)) != m
        e = rng.standard_normal((3, n * s_n), dtype=np.float32)
        # "no onset" draws: c0 about the mean level (sd0), no growth: at the limit now or never
        sd0 = np.sqrt(mix["sigma2"] / np.maximum(mix["count"], 1.0)).astype(np.float32)
        row = np.repeat(np.arange(n), s_n)
        lim_d = lim.astype(np.float32)[row]  # per draw and level, in scale units about the mean level
        if limit_std > 0.0:
            mult = np.exp(limit_std * rng.standard_normal(n * s_n)) - 1.0
            lim_d = lim_d + ((sign * levels / self.scale)[row] * mult[:, None]).astype(np.float32)
        ttf = np.where(lim_d - (sd0[row] * e[0])[:, None] <= 0.0, np.float32(0.0), np.float32(np.inf))
        slope = np.zeros(n * s_n, dtype=np.float32)
        # onset draws: one gather per draw from a table of every candidate's (mean, Cholesky factor with its diagonal
        # inverted, time since onset). Float32: 7 digits are plenty for a Monte Carlo RUL and halve the memory traffic
        if m and onset.any():
            l00, l10, l20, l11, l21, l22 = mix["chol"]
            table = np.empty((10, n, m), dtype=np.float32)
            for k, c in enumerate((*np.moveaxis(mix["mean"], 2, 0), 1.0 / l00, l10, l20, 1.0 / l11, l21, 1.0 / l22,
                                   np.maximum(-mix["tau_on"], 0.0))):
                table[k] = c
            co = cand[onset]
            mu0, mu1, mu2, i00, c10, c20, i11, c21, i22, u_now = table.reshape(10, n * m)[:, co - co // (m + 1)]
            e0, e1, e2 = e[0][onset], e[1][onset], e[2][onset]
            d2 = e2 * i22  # L^T d = e, elementwise (backward substitution)
            d1 = (e1 - c21 * d2) * i11
            d0 = (e0 - c10 * d1 - c20 * d2) * i00
            c0 = mu0 + d0
            a = np.maximum(mu1 + d1, 0.0)
            b = mu2 + d2  # a decelerating draw (b < 0) saturates: maybe never there
            sl = a + 2.0 * b * u_now
            gap = lim_d[onset] - (c0 + (a + b * u_now) * u_now)[:, None]
            sl_l, b_l = sl[:, None], b[:, None]  # against every level
            # time from now: b x^2 + slope x - gap = 0, smallest root >= 0 in the stable form; 0 if already at the
            # limit; inf if the path never gets there (no growth, or a decelerating path levelling off below it)
            disc = sl_l * sl_l + 4.0 * b_l * np.maximum(gap, 0.0)
            den = sl_l + np.sqrt(np.maximum(disc, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                ttf[onset] = np.where(gap <= 0.0, 0.0, np.where((disc >= 0.0) & (den > 0.0), 2.0 * gap / den, np.inf))
            slope[onset] = sl
        ttf, slope = ttf.reshape(n, s_n, -1), slope.reshape(n, s_n)
        ttf = failure(ttf) if failure is not None else ttf[..., -1]
        # round 10: the draws above come grouped by candidate (earliest onset first, "no onset" last); shuffled per
        # row they are exchangeable, as ``twin.combine`` (the earliest mode draw by draw, modes independent) and any
        # subsample of the draws assume -- grouped, draw k of one mode met draw k of another from the same end of
        # their onset mixtures, and the first half of the draws was the early onsets' half
        ttf = rng.permuted(ttf, axis=1)
        mean_c = slope
        ttf[ttf > p.horizon] = np.inf
        ready = self._ready(mix)
        if m:
            sl = np.where(np.isfinite(mean_c), mean_c, 0.0)
            slope_z = sl.mean(axis=1) / np.maximum(sl.std(axis=1), 1e-12)
            at_limit = np.mean(ttf == 0.0, axis=1) >= 0.5
            evidence = (slope_z >= p.evidence_z) | at_limit | (p.evidence_z <= 0)
        else:
            evidence = np.zeros(n, dtype=bool)
        ttf = np.where(ready[:, None], ttf, np.nan)
        ks = [min(int(f * s_n), s_n - 1) for f in (0.05, 0.5, 0.95)]
        part = np.partition(ttf, ks, axis=1)  # three order statistics, not a full sort
        q = [part[:, k].astype(float) for k in ks]
        risk = np.where(ready, np.where(evidence, (ttf <= p.risk_horizon).mean(axis=1), 0.0), np.nan)
        return Forecast(q[0], q[1], q[2], risk, ready, ttf, evidence)
