"""Round 8: the winding part g's trend inflates its noise by a share (prognosis.winding_noise_share, 0.25) of its
estimator's memory over the epoch instead of the whole memory: narrower intervals about the same median."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_twin.core.params import EstimatorParams, PrognosisParams
from sigma_twin.core.twin import ActuatorTwin


def thermal_trend_forecast(prog: PrognosisParams, part: str, start: float, growth: float, limit: float):
    """A one-joint twin whose ``part`` trend (``winding_trend`` or ``cooling_trend``) got 20 h of points every 10
    min: ``start``, an onset at 8 h, then ``growth`` per hour (relative), 1 % noise on every point; its forecast at
    20 h to ``limit``."""
    twin = ActuatorTwin(1, EstimatorParams(), prog=prog)
    trend = getattr(twin, part)
    rng = np.random.default_rng(3)
    for k in range(121):
        tk = k / 6.0
        value = start * (1.0 + growth * max(tk - 8.0, 0.0)) * (1.0 + rng.normal(0.0, 0.01))
        trend.record(tk, np.array([value]), np.full(1, 1e-8))
    return twin, trend.forecast(20.0, np.full(1, limit), np.random.default_rng(1))


def _winding_forecast(prog: PrognosisParams):
    return thermal_trend_forecast(prog, "winding_trend", 0.1, 0.03, 0.16)  # g = 0.1 K/A^2, +3 % per hour


def test_winding_trend_noise_is_inflated_by_a_share_of_its_memory() -> None:
    prog = PrognosisParams(samples=4000)
    assert prog.winding_noise_share == 0.25
    twin, now = _winding_forecast(prog)
    former, before = _winding_forecast(PrognosisParams(samples=4000, winding_noise_share=1.0))
    epochs = EstimatorParams().gain_memory / prog.epoch
    assert twin.winding_trend.inflation == pytest.approx(0.25 * epochs)
    assert former.winding_trend.inflation == pytest.approx(epochs)
    # the other thermal part keeps its own share (prognosis.cooling_noise_share; test_trend_noise_inflation.py)
    assert twin.cooling_trend.inflation == pytest.approx(
        max(1.0, prog.cooling_noise_share * EstimatorParams().thermal_memory / prog.epoch))
    assert now.q50[0] == pytest.approx(before.q50[0], rel=0.1)
    assert now.q95[0] - now.q05[0] < 0.8 * (before.q95[0] - before.q05[0])
