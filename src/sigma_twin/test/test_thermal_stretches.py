"""Round 28: a thermal failure happens while the winding works. The forecast places each draw in a work stretch of
the rhythm the twin learnt from the current (``prognosis.thermal_stretches``); several limit levels per row go
through the growth model as one path per draw."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sigma_sim.degradation import Degradation
from sigma_sim.wear import WearConfig, WearSimulator
from sigma_twin.core.growth import GrowthTrend
from sigma_twin.core.params import LimitParams, PrognosisParams
from sigma_twin.core.twin import ActuatorTwin


def _trend() -> GrowthTrend:
    trend = GrowthTrend(2, PrognosisParams(samples=200), rising=True, scale=1.0)
    for k in range(40):  # a level of 1, then growth from 3 h on
        t_h = 0.25 * k
        y = 1.0 + 0.05 * max(0.0, t_h - 3.0) ** 1.5
        trend.record(t_h, np.array([y, 1.0 + 0.02 * t_h]), np.full(2, 1e-4))
    return trend


def test_several_levels_are_one_path_per_draw() -> None:
    """The same level twice with the last-level rule gives exactly the single-level forecast (same generator);
    a higher level is crossed later by every draw."""
    trend, limit = _trend(), np.array([2.0, 2.0])
    single = trend.forecast(10.0, limit, np.random.default_rng(5), 0.04)
    twice = trend.forecast(10.0, np.stack([limit, limit], axis=1), np.random.default_rng(5), 0.04,
                           lambda ttf: ttf[..., -1])
    np.testing.assert_array_equal(single.samples, twice.samples)
    levels = np.stack([1.5 * limit, limit], axis=1)
    high, low = (trend.forecast(10.0, levels, np.random.default_rng(5), 0.04, lambda ttf, j=j: ttf[..., j]).samples
                 for j in (0, 1))
    finite = np.isfinite(low)
    assert finite.sum() > 100
    assert np.all(high[finite] >= low[finite] - 1e-4)


@pytest.fixture(scope="module")
def worn_twin() -> tuple[ActuatorTwin, float]:
    """Three motors losing their cooling from 2 h on, run through the wear model's battery rhythm for 16 h."""
    cfg = WearConfig(dt=2.0)
    degs = [Degradation("cooling_loss", 2.0 * 3600.0, 0.12, 0.003) for _ in range(3)]
    sim = WearSimulator(degs, seed=11, cfg=cfg)
    limits = LimitParams(max_winding_temperature=cfg.max_winding_temperature)
    twin = ActuatorTwin(sim.n, limits=limits, prog=PrognosisParams(seed=3))
    ones = np.ones(sim.n, dtype=bool)
    for _ in range(int(16 * 3600 / cfg.dt)):
        m = sim.step()
        twin.add(m.t, m.current, m.t_winding, m.t_housing, m.position, m.velocity, m.effort, ones, ones)
    return twin, m.t


def test_draws_fail_inside_work_stretches(worn_twin: tuple[ActuatorTwin, float]) -> None:
    twin, t = worn_twin
    th = twin.thermal
    assert np.all(np.isfinite(th.work_len) & np.isfinite(th.rest_len))  # the rhythm was learnt from the current
    first, work, cycle = twin.stretch_grid(t)
    draws = twin.forecast(t, np.random.default_rng(1))["thermal"].samples
    finite = np.isfinite(draws)
    assert finite.sum() > 300  # a forecast with crossings to judge
    phase = (np.where(finite, draws, 0.0) - first[:, None]) % cycle[:, None]
    inside = phase <= work[:, None] + 1e-6
    assert np.all(inside[finite])
    # the former twin (the crossing of the whole-stretch limit) puts a good share of its draws into the rests
    old = dataclasses.replace(twin.prog, thermal_stretches=False)
    twin.prog, prog = old, twin.prog
    try:
        before = twin.forecast(t, np.random.default_rng(1))["thermal"].samples
    finally:
        twin.prog = prog
    fin = np.isfinite(before)
    outside = ((np.where(fin, before, 0.0) - first[:, None]) % cycle[:, None] > work[:, None])[fin]
    assert outside.mean() > 0.2
