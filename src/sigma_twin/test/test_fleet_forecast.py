"""The fleet batch forecast (core/fleet.py) keeps the statistics of the reference (growth.GrowthTrend) it replaces
in the cloud-side batch: same mixture over onsets (to rounding), same quantiles, risk and evidence within Monte Carlo
error, on a small fleet with healthy, linear and accelerating wear, gaps, too short histories and a falling feature."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_twin.core.fleet import FleetTrend, fleet_forecast, mixture
from sigma_twin.core.growth import GrowthTrend
from sigma_twin.core.params import PrognosisParams

EPOCHS = 72  # 12 h at 10-minute epochs
TIMES = np.arange(EPOCHS) / 6.0
NOW = TIMES[-1]
SAMPLES = 20000
QUANTILE_BAND = 0.02  # the fast quantile lies between the reference draws' (f - band) and (f + band) quantiles
RISK_TOL = 0.02  # |risk difference|; Monte Carlo SE with 20000 draws each <= 0.005


def _fleet(rising: bool) -> tuple[np.ndarray, np.ndarray]:
    """64 rows: 20 healthy, 20 linear wear from a random onset, 12 accelerating, 8 with gaps/short history, 4 flat
    at the limit (a level within its noise of the limit: "no onset" draws at the limit now)."""
    rng = np.random.default_rng(7)
    n = 64
    onset = np.where(np.arange(n) < 20, np.inf, rng.uniform(1.0, 9.0, n))
    rate = rng.uniform(0.01, 0.04, n)
    accel = np.where((np.arange(n) >= 40) & (np.arange(n) < 52), rng.uniform(0.001, 0.004, n), 0.0)
    u = np.maximum(TIMES[None, :] - onset[:, None], 0.0)
    y = rng.uniform(0.2, 0.3, n)[:, None] + rate[:, None] * u + accel[:, None] * u * u
    y = y + rng.normal(0.0, 0.004, y.shape)
    y[52:56, rng.integers(0, EPOCHS, 30)] = np.nan  # gaps (the estimator saw nothing new in those epochs)
    y[56:58, :-8] = np.nan  # 80 min of history: not ready
    y[58:60, :-20] = np.nan  # 200 min: ready, short
    y[60:] = 0.45 + rng.normal(0.0, 0.002, (4, EPOCHS)) + np.array([-0.004, -0.002, 0.0, 0.002])[:, None]
    limit = np.full(n, 0.45)
    if not rising:
        return 1.0 - y, 1.0 - limit
    return y, limit


def _reference(prog: PrognosisParams, y: np.ndarray, limit: np.ndarray, rising: bool) -> GrowthTrend:
    trend = GrowthTrend(y.shape[0], prog, rising=rising, scale=0.5, correlation_time=7200.0, capacity=EPOCHS)
    for k in range(EPOCHS):
        trend.record(TIMES[k], y[:, k], np.full(y.shape[0], 1e-5))
    return trend


@pytest.mark.parametrize("rising", [True, False])
def test_mixture_equals_the_reference(rising: bool) -> None:
    prog = PrognosisParams()
    y, limit = _fleet(rising)
    ref = _reference(prog, y, limit, rising).mixture(NOW)
    fast = mixture(FleetTrend(prog, rising, 0.5, 7200.0), TIMES, y, NOW)
    np.testing.assert_allclose(fast["weight"], ref["weight"], atol=1e-9)
    np.testing.assert_allclose(fast["weight_none"], ref["weight_none"], atol=1e-9)
    np.testing.assert_allclose(fast["sigma2"], ref["sigma2"], rtol=1e-9)
    assert (fast["weight_none"][:20] > 0.5).all() and (fast["weight_none"][20:52] < 0.5).sum() >= 25


@pytest.mark.parametrize("rising", [True, False])
def test_forecast_statistics_equal_the_reference(rising: bool) -> None:
    prog = PrognosisParams(samples=SAMPLES)
    y, limit = _fleet(rising)
    ref_trend = _reference(prog, y, limit, rising)
    ref = ref_trend.forecast(NOW, limit, np.random.default_rng(1))
    fast = fleet_forecast(FleetTrend(prog, rising, 0.5, 7200.0), TIMES, y, limit, NOW, np.random.default_rng(2),
                          chunk=17)  # several chunks, one of them partial
    np.testing.assert_array_equal(fast.ready, ref.ready)
    assert not fast.ready[56:58].any() and fast.ready[58:60].all()
    assert np.isnan(fast.q50[56:58]).all() and np.isnan(fast.risk[56:58]).all()
    srt = np.sort(ref.samples, axis=1)
    s_n = prog.samples
    ready = np.flatnonzero(ref.ready)
    for f, q in ((0.05, fast.q05), (0.5, fast.q50), (0.95, fast.q95)):
        lo = srt[ready, max(int((f - QUANTILE_BAND) * s_n), 0)]
        hi = srt[ready, min(int((f + QUANTILE_BAND) * s_n), s_n - 1)]
        ok = (q[ready] >= lo * (1 - 1e-6)) & (q[ready] <= hi * (1 + 1e-6))
        assert ok.all(), (f, ready[~ok], q[ready][~ok], lo[~ok], hi[~ok])
    # evidence is itself a Monte Carlo statistic (the draws' slope z-score): agreement on all but borderline rows;
    # the risk counts only with evidence, so it is compared where both agree
    same = fast.evidence[ready] == ref.evidence[ready]
    assert same.mean() >= 0.95
    np.testing.assert_allclose(fast.risk[ready][same], ref.risk[ready][same], atol=RISK_TOL)
    assert fast.evidence[20:52].sum() >= 25 and not fast.evidence[:20].any()
    assert (fast.risk[:20] == 0.0).all()
    # flat at the limit: the "no onset" draws' closed form gives time 0 in the reference's share of draws
    assert fast.q05[60:].max() == 0.0 and (fast.risk[62:] > 0.2).all()


def test_a_full_fleet_without_gaps_takes_the_shared_point_sums() -> None:
    prog = PrognosisParams(samples=400)
    y, limit = _fleet(True)
    y = y[:52]
    ref = _reference(prog, y, limit[:52], True).mixture(NOW)
    fast = mixture(FleetTrend(prog, True, 0.5, 7200.0), TIMES, y, NOW)
    assert fast["u"][1].shape == (1, EPOCHS)  # one row of point sums for every robot
    np.testing.assert_allclose(fast["weight"], ref["weight"], atol=1e-9)


def test_bad_shapes_and_times_are_refused_with_the_reason() -> None:
    trend = FleetTrend(PrognosisParams(), True, 0.5)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="values must be"):
        fleet_forecast(trend, TIMES[:-1], np.zeros((3, EPOCHS)), np.ones(3), NOW, rng)
    with pytest.raises(ValueError, match="ascending"):
        fleet_forecast(trend, TIMES[::-1], np.zeros((3, EPOCHS)), np.ones(3), NOW, rng)
    empty = fleet_forecast(trend, TIMES, np.zeros((0, EPOCHS)), np.ones(0), NOW, rng)
    assert empty.q50.shape == (0,)
