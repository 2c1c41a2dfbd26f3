"""Round 9: the cooling part x's trend inflates its noise by a share (prognosis.cooling_noise_share) of
thermal_memory over the epoch. Round 27: the friction trend's points are independent per-epoch fits at their data
time, so neither inflated nor moved (round 9's friction_lead is gone)."""

from __future__ import annotations

import pytest
from test_winding_noise_share import thermal_trend_forecast

from sigma_twin.core.params import EstimatorParams, PrognosisParams
from sigma_twin.core.twin import ActuatorTwin


def _cooling_forecast(prog: PrognosisParams):
    return thermal_trend_forecast(prog, "cooling_trend", 1.0, 0.05, 2.0)  # x = 1.0, +5 % per hour


def test_cooling_trend_noise_is_inflated_by_a_share_of_its_memory() -> None:
    prog = PrognosisParams(samples=4000)
    twin, now = _cooling_forecast(prog)
    former, before = _cooling_forecast(PrognosisParams(samples=4000, cooling_noise_share=1.0))
    epochs = EstimatorParams().thermal_memory / prog.epoch
    assert twin.cooling_trend.inflation == pytest.approx(max(1.0, prog.cooling_noise_share * epochs))
    assert former.cooling_trend.inflation == pytest.approx(epochs)
    # the winding part keeps its own share
    assert twin.winding_trend.inflation == pytest.approx(
        max(1.0, prog.winding_noise_share * EstimatorParams().gain_memory / prog.epoch))
    assert now.q50[0] == pytest.approx(before.q50[0], rel=0.1)
    assert now.q95[0] - now.q05[0] < 0.8 * (before.q95[0] - before.q05[0])


def test_friction_points_share_no_noise_and_stand_at_their_data_time() -> None:
    twin = ActuatorTwin(1)
    assert twin.friction_trend.inflation == pytest.approx(1.0)
    assert twin.friction_trend.lag_h == 0.0
