"""The onset-and-growth trend model (core/growth.py) against closed forms: onset found, crossing time of a linear
and of an accelerating growth, no risk on a flat feature, the estimator-lag shift, falling features, bad rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_twin.core.growth import GrowthTrend
from sigma_twin.core.params import PrognosisParams


def _record(trend: GrowthTrend, onset: np.ndarray, rate: np.ndarray, accel: np.ndarray, hours: float,
            noise: float, seed: int = 0, level: float = 1.0) -> None:
    rng = np.random.default_rng(seed)
    for k in range(int(hours * 6) + 1):
        t = k / 6.0
        u = np.maximum(t - onset, 0.0)
        trend.record(t, level + rate * u + accel * u * u + rng.normal(0, noise, len(onset)), np.full(len(onset), 1e-4))


def test_onset_and_linear_and_accelerating_crossings_match_closed_forms() -> None:
    p = PrognosisParams(lag_share=0.0, samples=2000)
    onset = np.array([np.inf, 8.0, 6.0, 12.0])
    rate = np.array([0.0, 0.05, 0.02, 0.04])
    accel = np.array([0.0, 0.0, 0.003, 0.0])
    trend = GrowthTrend(4, p, rising=True, scale=1.0)
    _record(trend, onset, rate, accel, 20.0, 0.005)
    now, limit = 20.0, np.full(4, 2.0)
    f = trend.forecast(now, limit, np.random.default_rng(1))
    u = now - onset
    # closed form: rate x + accel x^2 = 1 (the level starts at 1, the limit is 2), minus the time since onset
    truth = [math.inf, 1.0 / 0.05 - u[1], (-0.02 + math.sqrt(0.02**2 + 4 * 0.003)) / (2 * 0.003) - u[2],
             1.0 / 0.04 - u[3]]
    assert math.isinf(f.q50[0]) and f.risk[0] == 0.0 and not f.evidence[0]
    for i in (1, 2, 3):
        assert f.q50[i] == pytest.approx(truth[i], rel=0.2), i  # the alpha-lambda cone (alpha = 0.2)
        assert f.q05[i] <= truth[i] <= f.q95[i], i
        assert f.evidence[i]
    mix = trend.mixture(now)
    best = np.argmax(mix["weight"], axis=1)
    found = mix["tau_on"][np.arange(4), best] + now
    assert found[1] == pytest.approx(8.0, abs=1.0) and found[3] == pytest.approx(12.0, abs=1.0)
    assert mix["weight_none"][0] > 0.5 and mix["weight_none"][1] < 1e-3


def test_level_now_is_the_growth_path_not_the_window_mean() -> None:
    trend = GrowthTrend(1, PrognosisParams(lag_share=0.0), rising=True, scale=1.0)
    _record(trend, np.array([10.0]), np.array([0.1]), np.array([0.0]), 20.0, 0.002)
    value, var = trend.current(20.0)
    assert value[0] == pytest.approx(2.0, abs=0.03) and var[0] < 1e-3


def test_estimator_lag_moves_the_points_earlier_and_the_crossing_closer() -> None:
    # an estimator with 1 h memory reports a ramp 1 h late; lag_share 1 puts the points back where the wear was
    onset, rate = np.array([5.0]), np.array([0.1])
    lagged = GrowthTrend(1, PrognosisParams(lag_share=1.0), rising=True, scale=1.0, correlation_time=3600.0)
    plain = GrowthTrend(1, PrognosisParams(lag_share=0.0), rising=True, scale=1.0, correlation_time=3600.0)
    for trend in (lagged, plain):
        _record(trend, onset + 1.0, rate, np.zeros(1), 15.0, 0.002)
    a = lagged.forecast(15.0, np.array([2.5]), np.random.default_rng(0)).q50[0]
    b = plain.forecast(15.0, np.array([2.5]), np.random.default_rng(0)).q50[0]
    assert a == pytest.approx(15.0 - (15.0 - 5.0), abs=1.0)  # the truth: level 1 + 0.1 (t - 5) = 2.5 at t = 20
    assert b - a == pytest.approx(1.0, abs=0.3)


def test_falling_feature_capacity_fade() -> None:
    trend = GrowthTrend(1, PrognosisParams(lag_share=0.0), rising=False, scale=3.0)
    rng = np.random.default_rng(3)
    for k in range(121):
        t = k / 6.0
        trend.record(t, np.array([15.0 - 0.2 * max(t - 6.0, 0.0) + rng.normal(0, 0.01)]), np.array([1e-4]))
    f = trend.forecast(20.0, np.array([12.0]), np.random.default_rng(0))
    assert f.q50[0] == pytest.approx(3.0 / 0.2 - 14.0, abs=0.4)


def test_flat_healthy_rows_raise_no_risk_and_no_points_means_no_forecast() -> None:
    n = 40
    trend = GrowthTrend(n, PrognosisParams(), rising=True, scale=1.0, correlation_time=3600.0)
    _record(trend, np.full(n, np.inf), np.zeros(n), np.zeros(n), 20.0, 0.01, seed=5)
    f = trend.forecast(20.0, np.full(n, 1.3), np.random.default_rng(0))
    assert np.all(f.ready) and np.all(f.risk == 0.0)
    empty = GrowthTrend(2, PrognosisParams(), rising=True, scale=1.0)
    g = empty.forecast(1.0, np.full(2, 1.0), np.random.default_rng(0))
    assert not g.ready.any() and np.all(np.isnan(g.risk))
    half = GrowthTrend(2, PrognosisParams(), rising=True, scale=1.0)
    for k in range(60):
        half.record(k / 6.0, np.array([1.0, np.nan]), np.array([1e-4, np.nan]))
    h = half.forecast(10.0, np.full(2, 2.0), np.random.default_rng(0))
    assert h.ready[0] and not h.ready[1] and np.isnan(h.q50[1])


def test_median_given_crossing_is_the_median_of_the_draws_that_reach_the_limit() -> None:
    from sigma_twin.core.trend import median_given_crossing

    draws = np.array([[1.0, 2.0, np.inf, np.inf, np.inf],  # the plain median is inf; those that fail: 1.5 h
                      [np.inf] * 5,  # none reaches the limit
                      [np.nan] * 5,  # no forecast
                      [4.0, 1.0, 3.0, 2.0, 9.0]])  # all finite: the plain median
    got = median_given_crossing(draws)
    assert got[0] == pytest.approx(1.5) and math.isinf(got[1]) and math.isnan(got[2])
    assert got[3] == pytest.approx(np.median(draws[3]))
