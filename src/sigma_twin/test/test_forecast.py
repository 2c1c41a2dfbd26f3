"""Forecasts against closed forms: a constant load's exponential approach, a quadratic trend's crossing time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_twin.core.params import PrognosisParams
from sigma_twin.core.thermal import COPPER_ALPHA, critical_gain, steady_rise
from sigma_twin.core.trend import FeatureTrend, first_crossing
from sigma_twin.core.twin import ActuatorTwin, maintenance_window
from sigma_twin.core.whatif import time_to_limit


def _analytic_winding(a1, a2, b1, b2, i2, amb, tw0, th0, t):
    """Exact solution of the (affine) two-node model at constant load, by eigen-decomposition."""
    a = np.array([[-a2 + a1 * i2 * COPPER_ALPHA, a2], [b1, -b1 - b2]])
    b = np.array([a1 * i2 * (1.0 - 25.0 * COPPER_ALPHA), b2 * amb])
    x_ss = -np.linalg.solve(a, b)
    vals, vecs = np.linalg.eig(a)
    coeff = np.linalg.solve(vecs, np.array([tw0, th0]) - x_ss)
    return (x_ss + vecs @ (coeff * np.exp(vals * t))).real[0]


def test_constant_load_time_to_limit_matches_the_exponential_approach():
    a1, a2, b1, b2 = 0.12 / 40, 1 / (0.8 * 40), 1 / (0.8 * 900), 1 / (1.2 * 900)
    i2, amb, limit = 400.0, 25.0, 120.0
    cov = np.zeros((1, 2, 2))
    res = time_to_limit(np.array([[a1, a2]]), cov, np.array([[b1, b2]]), cov, np.array([40.0]), np.array([35.0]),
                        np.array([i2]), amb, limit, 20000.0, np.random.default_rng(0), samples=4, dt=0.5)
    ts = np.linspace(0.0, 20000.0, 200001)
    tw = np.array([_analytic_winding(a1, a2, b1, b2, i2, amb, 40.0, 35.0, t) for t in ts[::100]])
    t_exact = ts[::100][np.argmax(tw >= limit)]
    assert tw[-1] > limit
    assert res.q50[0] == pytest.approx(t_exact, rel=0.02)
    assert res.risk[0] == 1.0
    # a light load settles below the limit: never
    light = time_to_limit(np.array([[a1, a2]]), cov, np.array([[b1, b2]]), cov, np.array([40.0]), np.array([35.0]),
                          np.array([50.0]), amb, limit, 20000.0, np.random.default_rng(0), samples=4)
    assert math.isinf(light.q50[0]) and light.risk[0] == 0.0


def test_steady_rise_and_critical_gain_are_inverse():
    k = np.array([0.2, 0.4])
    rise = steady_rise(k, np.array([150.0, 150.0]), 25.0)
    assert rise[0] == pytest.approx(0.2 * 150 / (1 - COPPER_ALPHA * 0.2 * 150))
    assert np.allclose(critical_gain(rise, np.array([150.0, 150.0]), 25.0), k)


def test_first_crossing_closed_forms():
    c0, c1, c2 = np.array([-4.0, -4.0, -4.0, 1.0, -1.0]), np.array([2.0, 0.0, -1.0, 0.0, 0.0]), \
        np.array([0.0, 1.0, 0.0, 0.0, 1e-15])
    out = first_crossing(c0, c1, c2)
    assert out[0] == pytest.approx(2.0) and out[1] == pytest.approx(2.0)
    assert math.isinf(out[2]) and out[3] == 0.0 and math.isinf(out[4])


def test_linear_wear_trend_forecast_matches_its_crossing_and_covers_it():
    p = PrognosisParams(samples=2000)
    rng = np.random.default_rng(1)
    n = 40
    trend = FeatureTrend(n, p, rising=True, scale=1.0)
    slope = rng.uniform(0.02, 0.06, n)  # per hour
    for k in range(60):  # 10 h of points every 10 min
        th = k / 6.0
        trend.record(th, 0.2 + slope * th + rng.normal(0, 0.01, n), np.full(n, 1e-4))
    limit = np.full(n, 1.0)
    f = trend.forecast(59 / 6.0, limit, np.random.default_rng(2))
    truth = (1.0 - 0.2) / slope - 59 / 6.0
    assert np.all(f.ready)
    assert np.median(np.abs(f.q50 - truth) / truth) < 0.1
    inside = np.mean((f.q05 <= truth) & (truth <= f.q95))
    assert 0.8 <= inside <= 1.0


def test_flat_feature_gives_no_window_and_a_rising_one_does():
    p = PrognosisParams(lag_share=0.0)  # the points are the feature itself, no estimator lag behind them
    twin = ActuatorTwin(2, prog=p)
    rng = np.random.default_rng(4)
    for k in range(80):
        th = k / 6.0
        twin.friction_trend.record(th, np.array([1.5, 1.5 + 0.25 * th]) + rng.normal(0, 0.02, 2), np.full(2, 1e-4))
    f = twin.friction_trend.forecast(79 / 6.0, np.full(2, 6.0), np.random.default_rng(0))
    assert math.isinf(f.q50[0]) and f.risk[0] < 0.05
    assert f.q50[1] == pytest.approx((6.0 - 1.5) / 0.25 - 79 / 6.0, abs=1.0)
    from sigma_twin.core.twin import combine

    start, end = maintenance_window(3600.0 * 79 / 6.0, combine([f], [np.ones(2)], p.risk_horizon), p)
    assert np.isnan(start[0]) and np.isfinite(start[1]) and start[1] <= end[1]


def test_no_risk_without_evidence_of_degradation():
    """A healthy unit whose estimates wander (correlated filter noise: AR(1) with a 1 h correlation time) gets
    (almost) no risk once the evidence test is on; without it, the quadratic extrapolation of the wander gives many
    rows a risk. The RUL quantiles are the same either way; a unit that does degrade keeps its risk and forecast."""
    n = 400
    rng = np.random.default_rng(7)
    phi = math.exp(-1.0 / 6.0)
    walk = np.zeros((80, n))
    for k in range(1, 80):
        walk[k] = phi * walk[k - 1] + rng.normal(0, 0.1 * math.sqrt(1 - phi * phi), n)
    trends = {z: FeatureTrend(n, PrognosisParams(evidence_z=z), rising=True, scale=1.0, correlation_time=3600.0)
              for z in (0.0, 3.0)}
    for k in range(80):
        value = 1.5 + walk[k] + rng.normal(0, 0.02, n)
        for trend in trends.values():
            trend.record(k / 6.0, value, np.full(n, 1e-4))
    limits = np.full(n, 2.0)  # 5 standard deviations of the wander above its mean
    plain = trends[0.0].forecast(79 / 6.0, limits, np.random.default_rng(0))
    gated = trends[3.0].forecast(79 / 6.0, limits, np.random.default_rng(0))
    assert np.mean(plain.risk > 0.2) > 0.2  # measured 0.35 (seed 7)
    assert np.mean(gated.risk > 0.2) <= 0.02  # measured 0.005
    assert np.array_equal(gated.q50, plain.q50, equal_nan=True)
    wearing = FeatureTrend(1, PrognosisParams(), rising=True, scale=1.0)
    for k in range(80):
        wearing.record(k / 6.0, np.array([1.5 + 0.1 * k / 6.0]) + rng.normal(0, 0.02, 1), np.full(1, 1e-4))
    f = wearing.forecast(79 / 6.0, np.full(1, 3.0), np.random.default_rng(0))
    assert f.q50[0] == pytest.approx((3.0 - 1.5) / 0.1 - 79 / 6.0, abs=1.5) and f.risk[0] == 1.0
