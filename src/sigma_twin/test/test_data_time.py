"""The data time beside an exponentially forgetting estimate (``core.data_time``): the estimate of a ramp equals the
ramp at that time, rows without data keep theirs, the first datum sets it."""

from __future__ import annotations

import numpy as np

from sigma_twin.core import data_time


def test_an_ewma_of_a_ramp_stands_for_its_data_time() -> None:
    """Three rows, EWMA shares 0.05 / 0.2 / growing-then-0.1, each fed only on its own irregular schedule: the
    EWMA of y = 2 + 0.5 t equals the ramp at the data time (and lags the clock by about the memory)."""
    rng = np.random.default_rng(3)
    n = 3
    est, t_data, seen = np.zeros(n), np.full(n, np.nan), np.zeros(n)
    t = 0.0
    for _ in range(2000):
        t += rng.uniform(0.5, 2.0)
        mask = rng.random(n) < np.array([0.9, 0.5, 0.3])
        share = np.array([0.05, 0.2, max(0.1, 1.0 / (1.0 + seen[2]))])
        share = np.where(seen == 0, 1.0, share)
        y = 2.0 + 0.5 * t
        est = np.where(mask, est + share * (y - est), est)
        t_data = data_time.advance(t_data, t, share, mask)
        seen += mask
    assert np.allclose(est, 2.0 + 0.5 * t_data, rtol=0, atol=1e-9)
    assert np.all(t - t_data > 1.0)  # the estimate trails the clock


def test_rows_without_data_keep_their_time_and_the_first_datum_sets_it() -> None:
    t_data = np.array([np.nan, 10.0, np.nan])
    out = data_time.advance(t_data, 20.0, np.array([0.3, 0.5, 0.5]), np.array([True, True, False]))
    assert out[0] == 20.0 and out[1] == 15.0 and np.isnan(out[2])
    assert np.isnan(t_data[0])  # a new array; the input is not changed
