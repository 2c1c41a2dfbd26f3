"""Slow degradation faults, manufacturing spread and the unpaced wear model (pure, no MuJoCo)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_sim.degradation import Degradation, sample_degradation, sample_spread
from sigma_sim.wear import WearConfig, WearSimulator


def test_level_is_zero_before_onset_and_grows_as_stated():
    d = Degradation("cooling_loss", onset=3600.0, rate=0.5, accel=0.25)
    assert d.level(0.0) == 0.0 and d.level(3600.0) == 0.0
    assert d.level(3 * 3600.0) == pytest.approx(0.5 * 2 + 0.25 * 4)
    with pytest.raises(ValueError, match="unknown degradation kind"):
        Degradation("rust", 0.0, 1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        Degradation("winding_drift", 0.0, -1.0)
    with pytest.raises(ValueError, match="finite"):
        Degradation("winding_drift", math.nan, 1.0)


def test_spread_is_seeded_and_bounded():
    a, b = sample_spread(np.random.default_rng(4), 23), sample_spread(np.random.default_rng(4), 23)
    assert np.array_equal(a.c_winding, b.c_winding) and a.capacity == b.capacity
    assert np.all(np.abs(a.r_housing_ambient - 1.0) <= 0.10) and abs(a.capacity - 1.0) <= 0.05
    assert np.std(a.winding_resistance) > 0.01  # units really differ
    with pytest.raises(ValueError, match="spread"):
        sample_spread(np.random.default_rng(0), 3, 0.7)


def test_sampled_degradation_reaches_its_level_within_the_drawn_life():
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = sample_degradation(rng, "capacity_fade", level_at_life=0.2)
        assert 2 * 3600 <= d.onset <= 10 * 3600
        levels = [d.level(d.onset + h * 3600.0) for h in (8.0, 40.0)]
        assert levels[0] <= 0.2 + 1e-9 <= levels[1] + 1e-9


def test_wear_model_is_deterministic_and_the_truth_follows_the_faults():
    cfg = WearConfig(rated_capacity_ah=60.0)  # no trip to the dock within the two hours
    degs = [Degradation("cooling_loss", 0.0, 20.0), Degradation("spoofed_temperature", 600.0, 0.0), None,
            Degradation("capacity_fade", 0.0, 1.0)]
    runs = []
    for _ in range(2):
        sim = WearSimulator(degs, seed=7, cfg=cfg)
        samples = [sim.step() for _ in range(int(2 * 3600 / cfg.dt))]
        runs.append((sim, samples))
    (s1, m1), (_, m2) = runs
    assert np.array_equal(m1[-1].t_winding, m2[-1].t_winding)
    # the fast cooling loss overheats its motor; the healthy one does not fail
    assert math.isfinite(s1.failure_time[0]) and math.isinf(s1.failure_time[2])
    assert s1.truth.r_housing_ambient[0] > 20 * s1.truth.r_housing_ambient[2]
    # the spoofed winding sensor repeats one value from its onset on, while the motor keeps heating and cooling
    after = np.array([m.t_winding[1] for m in m1 if m.t > 700.0])
    assert np.ptp(after) == 0.0 and s1.failure_time[1] == pytest.approx(600.0, abs=cfg.dt)
    # capacity fades below the end-of-life share: failure recorded from the truth
    assert s1.truth.capacity_ah[3] < cfg.capacity_eol_share * cfg.rated_capacity_ah
    assert math.isfinite(s1.failure_time[3])
