"""Online estimation of each motor's two-node thermal model from measured current and temperatures.

Model (per motor; the simulator's structure, not its constants):

    dT_w/dt = a1 * I^2 (1 + alpha (T_w - 25)) - a2 (T_w - T_h)        a1 = R0 / C_w,   a2 = 1 / (R_wh C_w)
    dT_h/dt = b1 (T_w - T_h) - b2 (T_h - T_amb)                        b1 = 1 / (R_wh C_h), b2 = 1 / (R_ha C_h)

Both node equations are linear in their parameters, so two RLS estimators (``VectorRLS``) identify them from
windowed means and a least-squares temperature slope per window. What matters for a forecast is the steady-state
thermal gain ``K = a1/a2 (1 + b1/b2) = R0 (R_wh + R_ha)`` [K/A^2]: a winding at mean squared current ``I^2`` settles
at ``dT = K I^2 (1 + alpha (T_amb - 25)) / (1 - alpha K I^2)`` above ambient. Cooling efficiency (``b2`` against its
commissioning value) and winding resistance (``a1`` against its commissioning value) are reported too.

The measured winding slope is also regressed on the predicted one (``_consistency``): a winding sensor that stays
flat while I^2 R heating says it must rise (or replays old values) is flagged as contradicting physics.
"""

from __future__ import annotations

import numpy as np

from sigma_twin.core import data_time
from sigma_twin.core.params import EstimatorParams, SpoofParams
from sigma_twin.core.rls import VectorRLS, forgetting_for

COPPER_ALPHA = 0.00393  # 1/K: copper's resistance rise, a material constant


class WindowSums:
    """Per-row sums over a time window: means and the least-squares slope of each signal against time."""

    def __init__(self, n: int, signals: int) -> None:
        self.n, self.k = n, signals
        self.reset(np.ones(n, dtype=bool))

    def reset(self, rows: np.ndarray) -> None:
        if not hasattr(self, "count"):
            self.count = np.zeros(self.n)
            self.t0 = np.full(self.n, np.nan)
            self.st = np.zeros(self.n)
            self.stt = np.zeros(self.n)
            self.sx = np.zeros((self.n, self.k))
            self.stx = np.zeros((self.n, self.k))
            self.wmax = np.zeros(self.n)
            self.cmax = np.zeros(self.n)
        for arr in (self.count, self.st, self.stt):
            arr[rows] = 0.0
        self.sx[rows] = 0.0
        self.stx[rows] = 0.0
        self.t0[rows] = np.nan
        self.wmax[rows] = -np.inf
        self.cmax[rows] = 0.0

    def add(self, t: float, x: np.ndarray, rows: np.ndarray) -> None:
        self.t0 = np.where(rows & np.isnan(self.t0), t, self.t0)
        dt = np.where(rows, t - self.t0, 0.0)
        x = np.where(rows[:, None], x, 0.0)  # rows not valid may hold NaN
        w = rows.astype(float)
        self.count += w
        self.st += dt
        self.stt += dt * dt
        self.sx += x
        self.stx += dt[:, None] * x
        self.wmax = np.where(rows, np.maximum(self.wmax, x[:, 1]), self.wmax)  # winding peak
        self.cmax = np.where(rows, np.maximum(self.cmax, np.sqrt(np.abs(x[:, 3]))), self.cmax)

    def span(self) -> np.ndarray:
        c = np.maximum(self.count, 1.0)
        return np.sqrt(np.maximum(self.stt / c - (self.st / c) ** 2, 0.0)) * np.sqrt(12.0)

    def means(self) -> np.ndarray:
        return self.sx / np.maximum(self.count, 1.0)[:, None]

    def slopes(self) -> np.ndarray:
        c = np.maximum(self.count, 1.0)
        var_t = self.stt / c - (self.st / c) ** 2
        cov = self.stx / c[:, None] - (self.st / c)[:, None] * self.means()
        return cov / np.where(var_t > 1e-9, var_t, np.nan)[:, None]


class ThermalEstimator:
    """Two RLS estimators per motor plus the spoofing CUSUM on the winding sensor."""

    def __init__(self, n: int, est: EstimatorParams, spoof: SpoofParams) -> None:
        self.n, self.est, self.spoof = n, est, spoof
        lam_w = forgetting_for(est.thermal_memory, est.window)
        lam_h = forgetting_for(est.thermal_memory, est.window * est.housing_windows)
        # Loose, physically plausible starting points (a generic motor); P0 wide so the data dominate quickly: the
        # prior's information 1/P0 must be small against one update's x'x (housing regressors ~10 K: x'x ~ 100 per
        # update). Round 7: the housing's former 1e-5 (information 1e5, ~1000 updates) held x = b1/b2 near the
        # start value 1 for ~10 h, 15-35 % low, and its slow release read as a rising x -- a cooling loss
        self.winding = VectorRLS(n, 2, np.array([0.003, 0.03]), np.array([1e-4, 1e-2]), lam_w, noise0=0.01)
        self.housing = VectorRLS(n, 2, np.array([0.001, 0.001]), np.array([1e-2, 1e-2]), lam_h, noise0=1e-4)
        # round 7: the winding part g for the trend from a second winding RLS of shorter memory (``gain_memory``): it
        # follows a winding drift sooner; the spoofing test, the reported gain and the what-if keep ``winding``
        # (a short memory there lets the model follow a frozen sensor before the test sees it)
        lam_g = forgetting_for(est.gain_memory, est.window)
        self.winding_g = VectorRLS(n, 2, np.array([0.003, 0.03]), np.array([1e-4, 1e-2]), lam_g, noise0=0.01)
        self.win = WindowSums(n, 4)  # u, T_w, T_h, I^2
        self.house = WindowSums(n, 4)
        self.house_windows = np.zeros(n, dtype=int)
        # EWMAs of measured x predicted, predicted^2 and measured^2 winding slopes (the consistency test)
        self.s_mp = np.zeros(n)
        self.s_pp = np.zeros(n)
        self.s_mm = np.zeros(n)
        self.spoofed = np.zeros(n, dtype=bool)
        self.spoof_since = np.full(n, np.nan)
        self.t_first = np.full(n, np.nan)
        self.t_last = np.full(n, np.nan)
        self.last_winding = np.full(n, est.ambient)
        self.last_housing = np.full(n, est.ambient)
        # the time each thermal feature's estimate stands for (round 7): every update moves it toward now by the
        # share of the feature's variance the update removed (its data's weight under the forgetting); a window
        # without excitation (a robot at its dock) removes none, so it stays with the data the estimate rests on
        self.t_data_g = np.full(n, np.nan)  # g = a1/a2 (``winding_g``)
        self.t_data_x = np.full(n, np.nan)  # x = b1/b2 (housing RLS)
        self.baseline_a1 = np.full(n, np.nan)
        self.baseline_b2 = np.full(n, np.nan)
        self.mean_i2 = np.full(n, np.nan)  # EWMA of windowed I^2 [A^2]: the recent workload
        self.peak_rise = np.full(n, np.nan)  # recent peak winding rise above ambient [K] (decaying maximum)
        # the duty's rhythm: work stretches and rests (a pause shorter than rest_settle is part of the stretch)
        self.work_len = np.full(n, np.nan)  # EWMA of finished work stretches [s]
        self.rest_len = np.full(n, np.nan)  # EWMA of finished rests [s]
        self.work_start = np.full(n, np.nan)
        self.rest_start = np.full(n, np.nan)
        self.resting = np.zeros(n, dtype=bool)

    def add(self, t: float, current: np.ndarray, t_winding: np.ndarray, t_housing: np.ndarray,
            valid: np.ndarray) -> None:
        """One sample per motor (``valid`` false for channels rejected upstream); closes due windows."""
        gap = np.isfinite(self.t_last) & (t - self.t_last > self.est.max_gap)
        if gap.any():  # a long gap: the window's slope would bridge it; start over
            self.win.reset(gap)
            self.house.reset(gap)
        self.t_first = np.where(valid & np.isnan(self.t_first), t, self.t_first)
        self.t_last = np.where(valid, t, self.t_last)
        self.last_winding = np.where(valid, t_winding, self.last_winding)
        self.last_housing = np.where(valid, t_housing, self.last_housing)
        u = current * current * (1.0 + COPPER_ALPHA * (t_winding - 25.0))
        x = np.stack([u, t_winding, t_housing, current * current], axis=1)
        self.win.add(t, x, valid)
        self.house.add(t, x, valid)
        due = (np.nan_to_num(t - self.win.t0) >= self.est.window - 1e-9) & (self.win.count >= 3)
        if due.any():
            self._close(t, due)

    def _close(self, t: float, due: np.ndarray) -> None:
        m, s = self.win.means(), self.win.slopes()
        u, tw, th = m[:, 0], m[:, 1], m[:, 2]
        x = np.stack([u, -(tw - th)], axis=1)
        y = s[:, 1]
        ok = due & np.isfinite(y)
        pred = self.winding.predict(x)
        self._consistency(t, y, pred, ok)
        learn = ok & ~self.spoofed
        self.winding.update(x, y, learn)
        self._update_timed(self.winding_g, x, y, learn, t, self.t_data_g)
        # the workload: mean I^2 over windows in operation (a robot resting at its dock is not its duty cycle)
        i2 = m[:, 3]
        working = learn & (self.win.cmax > self.est.rest_current)
        self.mean_i2 = np.where(working, np.where(np.isnan(self.mean_i2), i2, 0.998 * np.nan_to_num(self.mean_i2)
                                                  + 0.002 * i2), self.mean_i2)
        self._rhythm(t, working, learn & ~working)
        self.win.reset(due)
        self.house_windows += due
        hdue = due & (self.house_windows >= self.est.housing_windows)
        if hdue.any():
            hm, hs = self.house.means(), self.house.slopes()
            hx = np.stack([hm[:, 1] - hm[:, 2], -(hm[:, 2] - self.est.ambient)], axis=1)
            self._update_timed(self.housing, hx, hs[:, 2], hdue & ~self.spoofed & np.isfinite(hs[:, 2]), t,
                               self.t_data_x)
            # the winding's recent peak rise above ambient (a slowly decaying maximum: the last working stretch)
            span_h = self.est.window * self.est.housing_windows / 3600.0
            peak = np.where(hdue, self.house.wmax - self.est.ambient, -np.inf)
            take = hdue & ~self.spoofed
            self.peak_rise = np.where(take, np.maximum(np.nan_to_num(self.peak_rise, nan=-np.inf)
                                                       - self.est.peak_decay * span_h, peak), self.peak_rise)
            self.house.reset(hdue)
            self.house_windows[hdue] = 0
        settled = np.isfinite(self.t_first) & (t - self.t_first >= self.spoof.learn_time)
        take = settled & np.isnan(self.baseline_a1) & ~self.spoofed
        self.baseline_a1[take] = self.winding.theta[take, 0]
        self.baseline_b2[take] = self.housing.theta[take, 1]

    @staticmethod
    def _update_timed(rls: VectorRLS, x: np.ndarray, y: np.ndarray, mask: np.ndarray, t: float,
                      t_data: np.ndarray) -> None:
        """One RLS step, and the data time of the ratio ``theta0 / theta1`` (g or x) moved toward ``t`` by the share
        of the ratio's variance the step removed: ``1 - lam * j'P_new j / j'P_old j`` (``lam P_new`` is the posterior
        before the next step's forgetting; ``j`` the ratio's gradient). Constant excitation gives ``1 - lam`` per step
        (the forgetting's exponential mean time); none gives 0. Updates ``t_data`` in place."""
        lam = rls.effective_forgetting()
        p_old, count = rls.P.copy(), rls.count.copy()
        rls.update(x, y, mask)
        updated = rls.count != count  # the rows the step took (finite data within ``mask``)
        if not updated.any():
            return
        th = rls.theta
        with np.errstate(divide="ignore", invalid="ignore"):
            j = np.stack([1.0 / th[:, 1], -th[:, 0] / (th[:, 1] * th[:, 1])], axis=1)
            v_old = np.einsum("ni,nij,nj->n", j, p_old, j)
            v_new = np.einsum("ni,nij,nj->n", j, rls.P, j)
            share = np.clip(np.nan_to_num(1.0 - lam * v_new / v_old, nan=0.0), 0.0, 1.0)
        t_data[:] = data_time.advance(t_data, t, share, updated)

    def _rhythm(self, t: float, working: np.ndarray, idle: np.ndarray) -> None:
        """Lengths of work stretches and rests (EWMA over finished ones): the duty the thermal limit is judged under."""
        w = 0.3
        ended_rest = working & self.resting  # back to work after a real rest
        rested = t - self.rest_start
        self.rest_len = np.where(ended_rest, np.where(np.isnan(self.rest_len), rested,
                                                      (1 - w) * self.rest_len + w * rested), self.rest_len)
        self.resting &= ~ended_rest
        self.work_start = np.where(working & np.isnan(self.work_start), t, self.work_start)
        self.rest_start = np.where(working, np.nan, np.where(idle & np.isnan(self.rest_start), t, self.rest_start))
        # a rest counts once it has lasted rest_settle: the stretch before it ended when the rest began
        begun = idle & ~self.resting & (t - self.rest_start >= self.est.rest_settle) & np.isfinite(self.work_start)
        stretch = self.rest_start - self.work_start
        self.work_len = np.where(begun, np.where(np.isnan(self.work_len), stretch,
                                                 (1 - w) * self.work_len + w * stretch), self.work_len)
        self.work_start = np.where(begun, np.nan, self.work_start)
        self.resting |= begun
        self.work_start = np.where(ended_rest, t, self.work_start)

    def _consistency(self, t: float, measured: np.ndarray, predicted: np.ndarray, ok: np.ndarray) -> None:
        """Does the winding sensor follow physics? The correlation of the measured with the predicted winding slope
        is high for a real sensor (whatever the model's remaining scale error, and while parameters drift) and ~0
        for a sensor that is frozen, replayed or unrelated to the heating. Alarm when it falls below
        ``correlation_floor`` with enough predicted excitation."""
        sp = self.spoof
        learning = np.isnan(self.t_first) | (t - self.t_first < sp.learn_time)
        a = 1.0 / sp.memory_windows
        m, p = np.where(ok, measured, 0.0), np.where(ok, predicted, 0.0)
        self.s_mp = np.where(ok, (1 - a) * self.s_mp + a * m * p, self.s_mp)
        self.s_pp = np.where(ok, (1 - a) * self.s_pp + a * p * p, self.s_pp)
        self.s_mm = np.where(ok, (1 - a) * self.s_mm + a * m * m, self.s_mm)
        rho = self.consistency()
        alarm = ok & ~learning & (np.nan_to_num(rho, nan=1.0) < sp.correlation_floor) & ~self.spoofed
        self.spoofed |= alarm
        self.spoof_since = np.where(alarm, t, self.spoof_since)

    def consistency(self) -> np.ndarray:
        """Correlation of measured and predicted winding slopes (1 = follows physics; NaN while unexcited)."""
        excited = self.s_pp > self.spoof.min_excitation ** 2
        rho = self.s_mp / np.sqrt(np.maximum(self.s_pp * self.s_mm, 1e-300))
        return np.where(excited, np.where(self.s_mm > 0, rho, 0.0), np.nan)

    # ------------------------------------------------------------------ derived health states
    def gain(self) -> tuple[np.ndarray, np.ndarray]:
        """Steady-state thermal gain K [K/A^2] per motor and its variance (delta method)."""
        a1, a2 = self.winding.theta[:, 0], self.winding.theta[:, 1]
        b1, b2 = self.housing.theta[:, 0], self.housing.theta[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            k = a1 / a2 * (1.0 + b1 / b2)
            gw = np.stack([k / a1, -k / a2], axis=1)
            r = a1 / a2
            gh = np.stack([r / b2, -r * b1 / (b2 * b2)], axis=1)
            var = (np.einsum("ij,ijk,ik->i", gw, self.winding.covariance(), gw)
                   + np.einsum("ij,ijk,ik->i", gh, self.housing.covariance(), gh))
        bad = ~np.isfinite(k) | (a2 <= 0) | (b2 <= 0) | (k <= 0)
        return np.where(bad, np.nan, k), np.where(bad, np.nan, var)

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The thermal gain's two factors and their variances (delta method): g = a1/a2 = R0 R_wh [K/A^2] (the
        winding's step above the housing per unit heating; from ``winding_g``, memory ``gain_memory``) and
        x = b1/b2 = R_ha/R_wh (the housing's share)."""
        a1, a2 = self.winding_g.theta[:, 0], self.winding_g.theta[:, 1]
        b1, b2 = self.housing.theta[:, 0], self.housing.theta[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            g, x = a1 / a2, b1 / b2
            jg = np.stack([1.0 / a2, -g / a2], axis=1)
            jx = np.stack([1.0 / b2, -x / b2], axis=1)
            g_var = np.einsum("ij,ijk,ik->i", jg, self.winding_g.covariance(), jg)
            x_var = np.einsum("ij,ijk,ik->i", jx, self.housing.covariance(), jx)
        bad_g = ~np.isfinite(g) | (a2 <= 0) | (g <= 0)
        bad_x = ~np.isfinite(x) | (b2 <= 0) | (x <= 0)
        return (np.where(bad_g, np.nan, g), np.where(bad_g, np.nan, g_var), np.where(bad_x, np.nan, x),
                np.where(bad_x, np.nan, x_var))

    def cooling_efficiency(self) -> np.ndarray:
        """b2 against its commissioning value: 1 = as new, 0.5 = the housing sheds heat half as well."""
        return self.housing.theta[:, 1] / self.baseline_b2

    def resistance_ratio(self) -> np.ndarray:
        """a1 (R0 / C_w) against its commissioning value: winding resistance relative to new."""
        return self.winding.theta[:, 0] / self.baseline_a1


def steady_rise(gain: np.ndarray, mean_sq_current: np.ndarray, ambient: float) -> np.ndarray:
    """Steady winding rise above ambient [K] at a mean squared current, with copper's resistance feedback
    (inf where the feedback runs away)."""
    g = gain * mean_sq_current
    denom = 1.0 - COPPER_ALPHA * g
    return np.where(denom > 0, g * (1.0 + COPPER_ALPHA * (ambient - 25.0)) / np.where(denom > 0, denom, 1.0), np.inf)


def effective_load(peak_rise: np.ndarray, gain: np.ndarray, ambient: float) -> np.ndarray:
    """The mean squared current [A^2] that, at steady state, explains the observed peak rise with this gain: the
    robot's real duty pattern (rests, stretches too short for steady state, ripple) folded into one number."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return peak_rise / (gain * (1.0 + COPPER_ALPHA * (ambient - 25.0)) + COPPER_ALPHA * gain * peak_rise)


def critical_gain(rise_limit: np.ndarray | float, mean_sq_current: np.ndarray, ambient: float) -> np.ndarray:
    """Thermal gain at which the steady winding rise reaches ``rise_limit`` [K] (inverse of ``steady_rise``)."""
    i2 = np.maximum(mean_sq_current, 1e-9)
    return rise_limit / (i2 * (1.0 + COPPER_ALPHA * (ambient - 25.0) + COPPER_ALPHA * rise_limit))


def periodic_peak(g: np.ndarray, x: np.ndarray, b2: np.ndarray, mean_sq: np.ndarray, peak_sq: np.ndarray,
                  work: np.ndarray, rest: np.ndarray, ambient: float, at: np.ndarray | None = None) -> np.ndarray:
    """Peak winding rise above ambient [K] of the two-node model under a periodic duty: work stretches of ``work`` s
    at mean squared current ``mean_sq`` [A^2] (``peak_sq`` in the hottest part), rests of ``rest`` s without current.

    Two time scales: the winding follows its heating within ~1/a2 (quasi-static: ``T_w - T_h = g u`` with
    ``g = a1/a2 = R0 R_wh``), the housing settles at ``x g u`` (``x = b1/b2 = R_ha/R_wh``) with rate ``b2``, so at the
    end of a stretch of the periodic regime it stands at ``x g u (1 - e^{-b2 D}) / (1 - e^{-b2 (D + R)})`` (no
    rests known: steady). Copper's resistance rise (``u = I^2 (1 + alpha (T_w - 25))``) is iterated: the housing at
    the stretch's mean winding temperature, the winding's own step at the peak. ``at`` [s]: the rise this long into
    a stretch of the periodic regime instead of at its end (the housing started the stretch at
    ``e^{-b2 R}`` of its end value and approaches ``x g u`` from there)."""
    d = np.where(np.isfinite(work), work, np.inf)
    r = np.where(np.isfinite(rest), rest, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        share = np.where(np.isfinite(d), -np.expm1(-b2 * d) / np.maximum(-np.expm1(-b2 * (d + r)), 1e-300), 1.0)
        if at is not None:  # from the stretch's start value share * e^{-b2 R} toward 1
            start = share * np.exp(-b2 * r)
            share = np.where(np.isfinite(d), 1.0 - (1.0 - start) * np.exp(-b2 * np.minimum(at, d)), share)
    share = np.clip(np.nan_to_num(share, nan=1.0), 0.0, 1.0)
    h, step = np.zeros_like(g), np.zeros_like(g)
    for _ in range(6):
        c_h = 1.0 + COPPER_ALPHA * (ambient + 0.5 * h + g * mean_sq - 25.0)
        h = x * g * mean_sq * c_h * share
        step = g * peak_sq * (1.0 + COPPER_ALPHA * (ambient + h + step - 25.0))
    return h + step


def peak_load(peak_rise: np.ndarray, g: np.ndarray, x: np.ndarray, b2: np.ndarray, mean_sq: np.ndarray,
              work: np.ndarray, rest: np.ndarray, ambient: float) -> np.ndarray:
    """The squared current of the hottest part of the duty [A^2] that makes ``periodic_peak`` explain the observed
    peak rise (at least the mean: the model's housing part may already explain all of it)."""
    h = periodic_peak(g, x, b2, mean_sq, np.zeros_like(g), work, rest, ambient)
    with np.errstate(divide="ignore", invalid="ignore"):
        upk = (peak_rise - h) / (g * (1.0 + COPPER_ALPHA * (ambient + peak_rise - 25.0)))
    return np.maximum(np.nan_to_num(upk, nan=0.0), mean_sq)


def critical_scale(g: np.ndarray, x: np.ndarray, b1: np.ndarray, b2: np.ndarray, mean_sq: np.ndarray,
                   peak_sq: np.ndarray, work: np.ndarray, rest: np.ndarray, ambient: float, rise_limit: float,
                   cooling: bool, iterations: int = 40, at: np.ndarray | None = None) -> np.ndarray:
    """Factor s on R_ha (``cooling``: x -> s x, b2 -> b2 / s) or on R0 (g -> s g) at which the periodic peak rise
    reaches ``rise_limit`` (bisection in log s over [1e-2, 1e3]; 1e3 = not within reach); ``at``: by that time into
    a stretch (``periodic_peak``)."""
    lo, hi = np.full(g.shape, np.log(1e-2)), np.full(g.shape, np.log(1e3))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        s = np.exp(mid)
        if cooling:
            p = periodic_peak(g, x * s, b1 / (x * s), mean_sq, peak_sq, work, rest, ambient, at)
        else:
            p = periodic_peak(g * s, x, b2, mean_sq, peak_sq, work, rest, ambient, at)
        over = ~(p < rise_limit)  # NaN counts as over: never a reassuring answer from bad inputs
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    return np.exp(0.5 * (lo + hi))


def stretch_failure(ttf: np.ndarray, first_start: np.ndarray, work: np.ndarray, cycle: np.ndarray,
                    into: np.ndarray) -> np.ndarray:
    """Time of the winding's failure [h from now] per draw, from the times its parameter crosses the limits of
    stretches cut off ``into`` [h] after their start (``ttf``: (rows, draws, levels); ``into``: (rows, levels), the
    last level the whole stretch's). The winding peaks only while working, so a draw fails in the first stretch
    whose whole-stretch limit it has crossed by the stretch's end, at the first of the stretch's times whose own
    limit it has crossed by then. Stretch k runs from ``first_start + k cycle`` for ``work`` (the rows' rhythm,
    [h]; stretch 0 may have started); rows without a known rhythm keep the whole-stretch crossing."""
    full = ttf[..., -1]
    known = np.isfinite(first_start) & np.isfinite(work) & np.isfinite(cycle) & (cycle > 0)
    s0 = np.where(known, first_start, 0.0)[:, None]
    per = np.where(known, cycle, 1.0)[:, None]
    with np.errstate(invalid="ignore"):
        k = np.maximum(np.ceil((full - s0 - np.where(known, work, 0.0)[:, None]) / per), 0.0)
    start = s0 + k * per  # the stretch in which the draw fails (inf where it never does)
    hit = start[..., None] + np.where(known[:, None], into, 0.0)[:, None, :]
    ok = (hit >= ttf) & (hit >= 0.0)
    out = np.where(ok, hit, np.inf).min(axis=-1)  # a draw that never crosses: k, start and hit are inf
    return np.where(known[:, None], out, full)
