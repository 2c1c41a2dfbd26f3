"""The twin of a set of actuators and of a set of batteries: estimators + trends + forecasts, vectorised over rows.

A robot's twin holds one ``ActuatorTwin`` over its joints and one ``BatteryTwin`` over its pack(s); the fleet batch
forecast and the prognostics bench hold many robots' rows in the same classes (rows never interact). Time is passed
in (seconds); forecasts are in hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_twin.core.battery import BatteryEKF
from sigma_twin.core.friction import FrictionEstimator
from sigma_twin.core.growth import GrowthTrend
from sigma_twin.core.params import EstimatorParams, LimitParams, PrognosisParams, SpoofParams
from sigma_twin.core.sensors import RestBias
from sigma_twin.core.thermal import ThermalEstimator, critical_scale, peak_load, stretch_failure
from sigma_twin.core.trend import FeatureTrend, Forecast
from sigma_twin.core.whatif import WhatIf, time_to_limit

MODES = ("thermal", "friction", "sensor_bias")


@dataclass
class ModeForecast:
    """Per row: time to the limit [h] as 5/50/95 % quantiles, risk within the risk horizon, health index."""

    q05: np.ndarray
    q50: np.ndarray
    q95: np.ndarray
    risk: np.ndarray
    health: np.ndarray  # [0, 1]: 1 = as commissioned, 0 = at the limit
    samples: np.ndarray  # (n, S) [h]
    dominant: np.ndarray  # per row: index into the modes combined (0 for a single mode)


def combine(forecasts: list[Forecast], health: list[np.ndarray], risk_horizon: float) -> ModeForecast:
    """The earliest of several failure modes, draw by draw (modes treated as independent)."""
    s = np.stack([f.samples for f in forecasts])  # (modes, n, S)
    filled = np.where(np.isnan(s), np.inf, s)
    ttf = filled.min(axis=0)
    which = filled.argmin(axis=0)
    none_ready = ~np.any(np.stack([f.ready for f in forecasts]), axis=0)
    ttf = np.where(none_ready[:, None], np.nan, ttf)
    srt = np.sort(ttf, axis=1)
    n_s = ttf.shape[1]
    q = [srt[:, min(int(f * n_s), n_s - 1)] for f in (0.05, 0.5, 0.95)]
    # the risk counts only the modes with evidence of degradation (trend.Forecast.evidence)
    ev = np.stack([np.ones(ttf.shape[0], dtype=bool) if f.evidence is None else f.evidence for f in forecasts])
    evidenced = np.where(ev[:, :, None], filled, np.inf).min(axis=0)
    risk = np.where(none_ready, np.nan, (evidenced <= risk_horizon).mean(axis=1))
    dom = np.array([np.bincount(w, minlength=len(forecasts)).argmax() for w in which]) if len(which) else which
    hi = np.nanmin(np.stack(health), axis=0) if len(health) > 1 else health[0]
    return ModeForecast(q[0], q[1], q[2], risk, np.clip(np.nan_to_num(hi, nan=1.0), 0.0, 1.0), ttf, dom)


def make_trend(n: int, prog: PrognosisParams, rising: bool, scale: float, correlation_time: float = 0.0,
               min_points: int = 6, capacity: int = 512) -> FeatureTrend:
    """The trend model ``prog.model`` names: the onset-and-growth mixture or the generic quadratic."""
    cls = GrowthTrend if prog.model == "growth" else FeatureTrend
    return cls(n, prog, rising, scale, correlation_time, min_points, capacity)


def _health(value: np.ndarray, baseline: np.ndarray | float, limit: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(1.0 - (value - baseline) / (limit - baseline), 0.0, 1.0)


class ActuatorTwin:
    """Thermal, friction and sensor-bias health of ``n`` actuators."""

    #: the times into a work stretch (shares of its length) whose own thermal limits a draw is checked against
    STRETCH_SHARES = (0.3, 0.5, 0.65, 0.8, 0.9)

    def __init__(self, n: int, est: EstimatorParams | None = None, limits: LimitParams | None = None,
                 prog: PrognosisParams | None = None, spoof: SpoofParams | None = None) -> None:
        self.n = n
        self.est, self.limits = est or EstimatorParams(), limits or LimitParams()
        self.prog, self.spoof = prog or PrognosisParams(), spoof or SpoofParams()
        self.thermal = ThermalEstimator(n, self.est, self.spoof)
        # a friction point needs a fifth of an epoch of motion (a joint that moved less carries its samples on)
        self.friction = FrictionEstimator(n, self.est.friction_memory, min_motion=0.2 * self.prog.epoch)
        self.bias = RestBias(n, self.est)
        # the thermal limit is crossed through either of two hidden parameters, each trended on its own: the winding
        # part g = a1/a2 = R0 R_wh (winding resistance drift) and the housing part x = b1/b2 = R_ha/R_wh (cooling loss)
        # round 8: the winding trend's noise inflation is a share of its memory over the epoch (the full memory gave
        # intervals wider than its errors: seed 0's winding drift passed alpha-lambda in 0.27 of the runs on a
        # replay, 0.44 with a quarter, coverage 0.80 -> 0.74)
        self.winding_trend = make_trend(n, self.prog, rising=True, scale=0.1,
                                        correlation_time=self.prog.winding_noise_share * self.est.gain_memory)
        # round 9: the same for the cooling part x (a quarter of thermal_memory: inflation 3 instead of 12; seed 0's
        # cooling loss 0.47 -> 0.60 on a replay of the bench, its coverage 0.80 -> 0.70)
        self.cooling_trend = make_trend(n, self.prog, rising=True, scale=2.0,
                                        correlation_time=self.prog.cooling_noise_share * self.est.thermal_memory)
        # their points carry the time their data stand for (ThermalEstimator.t_data_g / t_data_x, round 7)
        self.winding_trend.lag_h = self.cooling_trend.lag_h = 0.0
        # round 27: one independent point per epoch (FrictionEstimator.epoch_point) at its samples' mean time: points
        # share no data, so their noise is not inflated (the correlation time is the epoch) and need no lead
        self.friction_trend = make_trend(n, self.prog, rising=True, scale=0.75 * self.limits.friction_limit,
                                         correlation_time=self.prog.epoch)
        self.friction_trend.lag_h = 0.0
        # points within one rest share its residual transient; round 11: its noise inflation is
        # prognosis.bias_correlation_time over the epoch (1 by default; 3 before: with 1800 s the 5-95 % interval
        # held the true remaining time in 0.98 of seed 0's forecasts, wider than its errors, and alpha-lambda, which
        # needs half the draws within +-20 %, failed runs whose median was right)
        self.bias_trend = make_trend(n, self.prog, rising=True, scale=self.limits.bias_tolerance,
                                     correlation_time=self.prog.bias_correlation_time, min_points=3)
        self.bias_trend.lag_h = 0.0  # the rest-time EWMA trails by minutes only
        self.next_epoch = np.nan
        self._seen = np.zeros(n)  # rest-bias samples behind the last bias point
        self._t_seen = {"g": np.full(n, -np.inf), "x": np.full(n, -np.inf)}  # data time of the last thermal points
        self._rests = np.zeros(n)

    def add(self, t: float, current: np.ndarray, t_winding: np.ndarray, t_housing: np.ndarray,
            position: np.ndarray, velocity: np.ndarray, effort: np.ndarray, valid_health: np.ndarray,
            valid_joint: np.ndarray) -> None:
        """One sample of every actuator (rows failing their channel checks carry ``valid_* = False``)."""
        self.add_joint(t, position, velocity, effort, valid_joint)
        self.add_health(t, current, t_winding, t_housing, valid_health)

    def add_joint(self, t: float, position: np.ndarray, velocity: np.ndarray, effort: np.ndarray,
                  valid: np.ndarray) -> None:
        """One joint-state sample (position [rad], velocity [rad/s], effort [N*m])."""
        self.friction.add(t, position, velocity, effort, valid)

    def add_health(self, t: float, current: np.ndarray, t_winding: np.ndarray, t_housing: np.ndarray,
                   valid: np.ndarray) -> None:
        """One actuator-health sample (current [A], winding and housing temperature [degC]); records epochs."""
        self.bias.add(t, current, t_winding, t_housing, valid)
        self.thermal.add(t, current, t_winding - self.bias.bias, t_housing, valid)
        if np.isnan(self.next_epoch):
            self.next_epoch = t + self.prog.epoch
        elif t >= self.next_epoch:
            self.record(t)
            self.next_epoch += self.prog.epoch * max(1.0, np.floor((t - self.next_epoch) / self.prog.epoch) + 1)

    def record(self, t: float) -> None:
        """One trend point per feature (thermal gain, friction, bias) from the estimators' current state."""
        th = t / 3600.0
        g, g_var, x, x_var = self.thermal.parts()
        # the estimators' start-up transient is not wear: trends begin after two memories of data
        run = t - self.thermal.t_first
        settled = np.isfinite(self.thermal.baseline_a1) & (run >= 2.0 * self.est.thermal_memory)
        seen = self.bias.seen.copy()
        fresh = seen > self._seen + RestBias.MEMORY
        # bias points: at the end of every rest, and within a long rest once the housing has cooled (three of its
        # time constants 1/b2 after settling: before that the winding still sheds heat through it and reads high),
        # each time the rest-time EWMA has renewed itself (its memory) -- a drift moving during a rest is followed
        tau_h = 1.0 / np.maximum(np.abs(self.thermal.housing.theta[:, 1]), 1e-6)
        cooled = np.nan_to_num(t - self.bias.rest_since, nan=0.0) >= self.est.rest_settle + 3.0 * tau_h
        ended = self.bias.rests > self._rests
        self._rests = self.bias.rests.copy()
        fresh = (fresh & cooled) | ended
        self._seen = np.where(fresh, seen, self._seen)
        use = settled & ~self.thermal.spoofed
        # a thermal point is new evidence once its data time has moved on by a quarter epoch (at a dock it stands)
        for name, trend, value, var, t_data in (("g", self.winding_trend, g, g_var, self.thermal.t_data_g),
                                                 ("x", self.cooling_trend, x, x_var, self.thermal.t_data_x)):
            moved = np.nan_to_num(t_data, nan=-np.inf) >= self._t_seen[name] + 0.25 * self.prog.epoch
            ok = use & moved & np.isfinite(value) & np.isfinite(var)
            self._t_seen[name] = np.where(ok, t_data, self._t_seen[name])
            trend.record(th, np.where(use, value, np.nan), var, ok, at=t_data / 3600.0)
        # round 27: the epoch's own friction point (the viscous term tied to it, round 24), at its samples' mean time
        fric, fric_var, fric_t = self.friction.epoch_point()
        self.friction_trend.record(th, fric, fric_var, np.isfinite(fric), at=fric_t / 3600.0)
        # round 25: at its data time (the rest-time EWMA's mean time), as the other features' points; before, at the
        # epoch's clock time, up to an epoch and the EWMA's memory late (sensor bias alpha-lambda 0.73 -> 0.77 / 0.75
        # on the held-out seeds 1000 / 2000)
        self.bias_trend.record(th, np.abs(self.bias.bias), self.bias.var, fresh, at=self.bias.t_data / 3600.0)

    def forecast(self, t: float, rng: np.random.Generator, mean_sq_current: np.ndarray | None = None,
                 ambient: float | None = None) -> dict[str, ModeForecast]:
        """Per mode and combined (``"actuator"``): time to each limit. ``mean_sq_current`` and ``ambient`` replace
        the recent workload for a what-if."""
        th = t / 3600.0
        amb = self.est.ambient if ambient is None else ambient
        lim = self.limits
        rise_limit = lim.max_winding_temperature - amb
        g_now, x_now = self.winding_trend.current(th)[0], self.cooling_trend.current(th)[0]
        g_est, _, x_est, _ = self.thermal.parts()
        g_now, x_now = np.where(np.isfinite(g_now), g_now, g_est), np.where(np.isfinite(x_now), x_now, x_est)
        b1 = np.abs(self.thermal.housing.theta[:, 0])
        b2 = b1 / np.maximum(x_now, 1e-9)
        th_ = self.thermal
        if mean_sq_current is None:  # the robot's observed duty: its rhythm of work and rest, its recent peak
            mean_sq, work, rest = th_.mean_i2, th_.work_len, th_.rest_len
            peak_sq = peak_load(th_.peak_rise, g_now, x_now, b2, mean_sq, work, rest, amb)
        else:  # a what-if: this mean squared current continuously (steady state)
            mean_sq = peak_sq = np.broadcast_to(np.asarray(mean_sq_current, dtype=float), (self.n,))
            work = rest = np.full(self.n, np.nan)
        duty = (g_now, x_now, b1, b2, np.nan_to_num(mean_sq), np.nan_to_num(peak_sq), work, rest, amb, rise_limit)
        # the physics of failure: the parameter value at which the duty's peak winding temperature reaches the limit
        g_crit = g_now * critical_scale(*duty, cooling=False)
        x_crit = x_now * critical_scale(*duty, cooling=True)
        # round 28: a draw fails while the winding works, in the stretches of the learnt rhythm (stretch_failure);
        # its limits at shares of a stretch (a stretch cut short peaks lower: a higher limit) come from the same model
        wt, ct = self.winding_trend, self.cooling_trend
        if (self.prog.thermal_stretches and mean_sq_current is None and isinstance(wt, GrowthTrend)
                and isinstance(ct, GrowthTrend)):
            shift = np.exp(-self.prog.stretch_limit_shift)
            first, work_h, cycle_h = self.stretch_grid(t)
            into = np.asarray(self.STRETCH_SHARES)[None, :] * work_h[:, None]  # (rows, levels) [h]
            k = into.shape[1]
            g_k, x_k, b1_k, b2_k, ms_k, pk_k, w_k, r_k = (np.tile(a, k) for a in duty[:8])  # all shares at once
            at = np.nan_to_num(into.T.ravel() * 3600.0, nan=0.0)
            levels = {}
            for name, now, full, cooling in (("g", g_now, g_crit, False), ("x", x_now, x_crit, True)):
                cut = critical_scale(g_k, x_k, b1_k, b2_k, ms_k, pk_k, w_k, r_k, amb, rise_limit, cooling=cooling,
                                     at=at).reshape(k, self.n).T
                levels[name] = np.concatenate([now[:, None] * cut, full[:, None]], axis=1) * shift
            into = np.concatenate([into, work_h[:, None]], axis=1)

            def fail(ttf: np.ndarray) -> np.ndarray:
                return stretch_failure(ttf, first, work_h, cycle_h, into)

            f_wind = wt.forecast(th, levels["g"], rng, lim.thermal_limit_std, fail)
            f_cool = ct.forecast(th, levels["x"], rng, lim.thermal_limit_std, fail)
        else:
            f_wind = wt.forecast(th, g_crit, rng, lim.thermal_limit_std)
            f_cool = ct.forecast(th, x_crit, rng, lim.thermal_limit_std)
        f_fric = self.friction_trend.forecast(th, np.full(self.n, lim.friction_limit), rng)
        f_bias = self.bias_trend.forecast(th, np.full(self.n, lim.bias_tolerance), rng)
        # thermal health: the way to the limit already gone, along the worse of the two parameters
        h_gain = np.fmin(_health(g_now, self.winding_trend.baseline, g_crit),
                         _health(x_now, self.cooling_trend.baseline, x_crit))
        h_fric = _health(self.friction_trend.current(th)[0], self.friction_trend.baseline, lim.friction_limit)
        h_bias = _health(np.abs(self.bias.bias), 0.0, lim.bias_tolerance)
        out = {"thermal": combine([f_wind, f_cool], [h_gain], self.prog.risk_horizon)}
        for name, f, h in (("friction", f_fric, h_fric), ("sensor_bias", f_bias, h_bias)):
            out[name] = combine([f], [h], self.prog.risk_horizon)
        both = combine([f_wind, f_cool, f_fric, f_bias], [h_gain, h_fric, h_bias], self.prog.risk_horizon)
        both.dominant = np.array([0, 0, 1, 2])[both.dominant]  # index into MODES (both thermal parts are thermal)
        out["actuator"] = both
        return out

    def stretch_grid(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The duty's next work stretches from the learnt rhythm, [h]: the start of the current or next stretch
        relative to now (a stretch running past its usual length ends now), its length, the cycle."""
        th = self.thermal
        work, cycle = th.work_len, th.work_len + th.rest_len
        working = np.isfinite(th.work_start)
        start = np.where(working, np.maximum(th.work_start, t - work),
                         np.maximum(th.rest_start + th.rest_len, t))
        return (start - t) / 3600.0, work / 3600.0, cycle / 3600.0

    def what_if(self, rng: np.random.Generator, mean_sq_current: np.ndarray, ambient: float | None = None,
                cooling_factor: float = 1.0, horizon: float = 3600.0, samples: int = 200) -> WhatIf:
        """Time to the winding limit [s] per motor if it ran at ``mean_sq_current`` [A^2] from now on."""
        th = self.thermal
        return time_to_limit(th.winding.theta, th.winding.covariance(), th.housing.theta, th.housing.covariance(),
                             th.last_winding - self.bias.bias, th.last_housing,
                             np.broadcast_to(np.asarray(mean_sq_current, dtype=float), (self.n,)),
                             self.est.ambient if ambient is None else ambient, self.limits.max_winding_temperature,
                             horizon, rng, samples, cooling_factor)


class BatteryTwin:
    """Capacity fade and internal resistance of ``n`` battery packs."""

    def __init__(self, n: int, est: EstimatorParams | None = None, limits: LimitParams | None = None,
                 prog: PrognosisParams | None = None) -> None:
        self.n = n
        self.est, self.limits, self.prog = est or EstimatorParams(), limits or LimitParams(), prog or PrognosisParams()
        self.ekf = BatteryEKF(n, self.limits.rated_capacity, self.est.battery_voltage_std,
                              error_time=self.est.battery_error_time)
        # round 11: the noise inflation is prognosis.capacity_correlation_time over the epoch (3; 6 before, whose
        # intervals covered 0.95 of seed 0's forecasts; 1 gave false windows on 0.09 of the healthy packs in a
        # replay of seed 0, 1.5 a coverage of 0.89)
        self.trend = make_trend(n, self.prog, rising=False, scale=0.2 * self.limits.rated_capacity,
                                correlation_time=self.prog.capacity_correlation_time)
        self.trend.lag_h = 0.0  # its points carry the time their data stand for (BatteryEKF.t_data; round 6)
        self.next_epoch = np.nan

    def add(self, t: float, voltage: np.ndarray, current: np.ndarray, valid: np.ndarray) -> None:
        """One sample per pack: terminal voltage [V], current [A, positive = discharging]."""
        self.ekf.add(t, voltage, current, valid)
        if np.isnan(self.next_epoch):
            self.next_epoch = t + self.prog.epoch
        elif t >= self.next_epoch:
            self.record(t)
            self.next_epoch += self.prog.epoch * max(1.0, np.floor((t - self.next_epoch) / self.prog.epoch) + 1)

    def record(self, t: float) -> None:
        converged = t - self.ekf.t_start >= 3600.0  # an hour of samples before the capacity means anything
        self.trend.record(t / 3600.0, np.where(converged, self.ekf.capacity, np.nan), self.ekf.capacity_var,
                          at=self.ekf.t_data / 3600.0)

    def forecast(self, t: float, rng: np.random.Generator) -> ModeForecast:
        th = t / 3600.0
        limit = np.full(self.n, self.limits.capacity_eol_share * self.limits.rated_capacity)
        f = self.trend.forecast(th, limit, rng)
        h = _health(self.trend.current(th)[0], self.trend.baseline, limit)
        return combine([f], [h], self.prog.risk_horizon)


def maintenance_window(t: float, fc: ModeForecast, prog: PrognosisParams) -> tuple[np.ndarray, np.ndarray]:
    """Earliest maintenance window per row [s]: planned when the risk reaches the threshold; it opens ``lead_time``
    before the 5 % quantile of the failure time (now, if that has passed) and closes at that quantile. NaN = none."""
    due = np.nan_to_num(fc.risk, nan=0.0) >= prog.risk_threshold
    q05 = np.where(np.isfinite(fc.q05), fc.q05, prog.risk_horizon)
    end = t + 3600.0 * q05
    start = np.maximum(t, end - 3600.0 * prog.lead_time)
    return np.where(due, start, np.nan), np.where(due, end, np.nan)
