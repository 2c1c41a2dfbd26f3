"""Round 10: a growth trend's Monte Carlo draws come back in random order per row (exchangeable).

Before, they came grouped by onset candidate (earliest onset first, "no onset" last): ``twin.combine``, which takes the
earliest mode draw by draw as if the modes were independent, paired the grouped ends of two mixtures, and the first
half of the draws (what the prognostics bench keeps) was the early onsets' half."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_twin.core.growth import GrowthTrend
from sigma_twin.core.params import PrognosisParams
from sigma_twin.core.trend import Forecast
from sigma_twin.core.twin import combine


def _forecast() -> Forecast:
    """Two rows, level for 6 h, then a slight rise: about half of each row's posterior says "no onset yet" (never at
    the limit), the rest reaches it within the horizon."""
    trend = GrowthTrend(2, PrognosisParams(samples=4000), rising=True, scale=1.0)
    noise = np.random.default_rng(5)
    for k in range(60):
        tk = k / 6.0
        y = 1.0 + 0.01 * noise.standard_normal(2) + np.array([0.004, 0.006]) * max(tk - 6.0, 0.0)
        trend.record(tk, y, np.full(2, 1e-8))
    return trend.forecast(10.0, np.full(2, 1.3), np.random.default_rng(1))


def test_draws_are_exchangeable() -> None:
    s = _forecast().samples
    finite = np.isfinite(s)
    share = finite.mean(axis=1)
    assert np.all((share > 0.1) & (share < 0.9))  # a mixture of "never" and finite draws
    half = s.shape[1] // 2
    # either half of the draws holds the same share of finite draws (grouped: 0.38 / 0.00 and 0.74 / 0.30)
    assert finite[:, :half].mean(axis=1) == pytest.approx(share, abs=0.04)
    assert finite[:, half:].mean(axis=1) == pytest.approx(share, abs=0.04)


def test_combined_modes_are_independent() -> None:
    f = _forecast()
    p = np.isfinite(f.samples).mean(axis=1)
    one = Forecast(f.q05[:1], f.q50[:1], f.q95[:1], f.risk[:1], f.ready[:1], f.samples[:1])
    two = Forecast(f.q05[1:], f.q50[1:], f.q95[1:], f.risk[1:], f.ready[1:], f.samples[1:])
    both = combine([one, two], [np.ones(1)], risk_horizon=8.0)
    # P(either mode reaches the limit) = 1 - (1 - p1)(1 - p2) for independent modes (grouped draws: 0.555 vs 0.611)
    assert np.isfinite(both.samples).mean() == pytest.approx(1.0 - (1.0 - p[0]) * (1.0 - p[1]), abs=0.02)
