"""Prognostics metrics against hand-computed values and against NASA ProgPy itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_twin.core import metrics


def test_alpha_lambda_by_hand():
    # truth 100 h; prediction at t = 50 h: bounds 100 -+ 0.2 * 50 = [90, 110]
    toe = np.array([85.0, 92.0, 99.0, 105.0, 111.0])  # 3 of 5 inside
    assert metrics.in_bounds_share(toe, 100.0, 50.0, 0.2) == pytest.approx(0.6)
    assert metrics.alpha_lambda([40.0, 50.0, 60.0], [toe - 30, toe, toe], 100.0, 45.0, 0.2, 0.5) is True
    assert metrics.alpha_lambda([40.0, 50.0], [toe, toe], 100.0, 45.0, 0.2, 0.7) is False
    assert metrics.alpha_lambda([40.0], [toe], 100.0, 45.0) is None  # no prediction at or after lambda
    assert metrics.in_bounds_share(np.array([np.inf, np.nan]), 100.0, 50.0, 0.2) == 0.0


def test_prognostic_horizon_by_hand():
    times = [10.0, 20.0, 30.0]
    toes = [np.full(10, 200.0), np.full(10, 95.0), np.full(10, 100.0)]
    # at t=10 bounds [82, 118] (200 outside); at t=20 bounds [84, 116]: 95 inside -> PH = 100 - 20
    assert metrics.prognostic_horizon(times, toes, 100.0, 0.2, 0.5) == pytest.approx(80.0)
    assert metrics.prognostic_horizon(times[:1], toes[:1], 100.0) is None


def test_coverage_and_rmse_by_hand():
    assert metrics.interval_coverage([1, 2, np.nan], [3, 4, 5], [2, 5, 1]) == pytest.approx(0.5)
    assert math.isnan(metrics.interval_coverage([np.nan], [np.nan], [1.0]))
    assert metrics.rmse(np.array([1.0, np.inf]), np.array([2.0, 8.0]), cap=10.0) == pytest.approx(
        math.sqrt((1 + 4) / 2))


def test_alpha_lambda_agrees_with_progpy():
    progpy = pytest.importorskip("progpy")  # noqa: F841 - the reference implementation
    from progpy.metrics import alpha_lambda
    from progpy.predictors import ToEPredictionProfile
    from progpy.uncertain_data import UnweightedSamples

    rng = np.random.default_rng(3)
    for case in range(20):
        gt = 100.0
        times = [20.0, 40.0, 60.0, 80.0]
        toes = [gt + rng.normal(rng.uniform(-15, 15), rng.uniform(1, 20), 60) for _ in times]
        profile = ToEPredictionProfile()
        for t, toe in zip(times, toes, strict=True):
            profile.add_prediction(t, UnweightedSamples([{"eol": float(v)} for v in toe]))
        lam = 20.0 + 0.5 * (gt - 20.0)
        theirs = alpha_lambda(profile, {"eol": gt}, lam, 0.2, 0.5)["eol"]
        assert metrics.alpha_lambda(times, toes, gt, lam, 0.2, 0.5) == theirs, case
