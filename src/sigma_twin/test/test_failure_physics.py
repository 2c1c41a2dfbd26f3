"""The thermal limit from the two-node model under the robot's own duty (round 4), the friction estimate's data time,
the duty rhythm and bias points within a rest: checked against direct integration and hand-known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_twin.core.friction import FrictionEstimator
from sigma_twin.core.params import EstimatorParams, SpoofParams
from sigma_twin.core.sensors import RestBias
from sigma_twin.core.thermal import (
    COPPER_ALPHA,
    ThermalEstimator,
    critical_scale,
    periodic_peak,
    steady_rise,
    stretch_failure,
)

# a motor of the simulator's "large" class: R0 0.12 ohm, C_w 40, C_h 900, R_wh 0.8, R_ha 1.2
A1, A2, B1, B2 = 0.12 / 40.0, 1.0 / (0.8 * 40.0), 1.0 / (0.8 * 900.0), 1.0 / (1.2 * 900.0)


def integrate_peak(a1: float, a2: float, b1: float, b2: float, i2_work: float, work: float, rest: float,
                   cycles: int = 12, dt: float = 1.0) -> float:
    """Peak winding rise over the last cycle of a periodic duty, by explicit Euler (the reference)."""
    tw = th = 0.0  # rises above an ambient of 25 degC
    peak = 0.0
    for c in range(cycles):
        for k in range(int((work + rest) / dt)):
            i2 = i2_work if k * dt < work else 0.0
            dtw = a1 * i2 * (1.0 + COPPER_ALPHA * tw) - a2 * (tw - th)
            dth = b1 * (tw - th) - b2 * th
            tw, th = tw + dt * dtw, th + dt * dth
            if c == cycles - 1:
                peak = max(peak, tw)
    return peak


def test_periodic_peak_matches_integration_of_the_two_node_model() -> None:
    g, x = A1 / A2, B1 / B2
    for cooling in (1.0, 3.0, 6.0):  # R_ha x cooling: the housing's time constant grows past the work stretch
        b2 = B2 / cooling
        ref = integrate_peak(A1, A2, B1, b2, 120.0, 1.5 * 3600.0, 2.5 * 3600.0)
        one = np.ones(1)
        model = periodic_peak(g * one, x * cooling * one, b2 * one, 120.0 * one, 120.0 * one, 1.5 * 3600.0 * one,
                              2.5 * 3600.0 * one, 25.0)[0]
        assert abs(model - ref) < 0.06 * ref, (cooling, model, ref)
    # without rests the housing settles: the steady rise of the whole gain
    steady = periodic_peak(g * one, x * one, B2 * one, 100.0 * one, 100.0 * one, np.full(1, np.nan),
                           np.full(1, np.nan), 25.0)[0]
    assert abs(steady - steady_rise(np.array([g * (1 + x)]), np.array([100.0]), 25.0)[0]) < 0.03 * steady


def integrate_into(a1: float, a2: float, b1: float, b2: float, i2_work: float, work: float, rest: float,
                   into: float, cycles: int = 12, dt: float = 1.0) -> float:
    """Winding rise ``into`` seconds after the start of the last cycle's work stretch, by explicit Euler."""
    tw = th = 0.0
    for c in range(cycles):
        for k in range(int((work + rest) / dt)):
            if c == cycles - 1 and k * dt >= into:
                return tw
            i2 = i2_work if k * dt < work else 0.0
            dtw = a1 * i2 * (1.0 + COPPER_ALPHA * tw) - a2 * (tw - th)
            dth = b1 * (tw - th) - b2 * th
            tw, th = tw + dt * dtw, th + dt * dth
    return tw


def test_rise_within_a_stretch_matches_integration() -> None:
    """Round 28: ``periodic_peak(at=...)`` is the rise part of the way into a stretch (the housing starts it cooled
    by the rest before); the winding only fails while it works, and not at the start of a stretch."""
    g, x, one = A1 / A2, B1 / B2, np.ones(1)
    for cooling in (1.0, 4.0):
        b2 = B2 / cooling
        rises = []
        for share in (0.25, 0.5, 1.0):
            ref = integrate_into(A1, A2, B1, b2, 120.0, 5400.0, 9000.0, share * 5400.0)
            model = periodic_peak(g * one, x * cooling * one, b2 * one, 120.0 * one, 120.0 * one, 5400.0 * one,
                                  9000.0 * one, 25.0, at=share * 5400.0 * one)[0]
            assert abs(model - ref) < 0.06 * ref, (cooling, share, model, ref)
            rises.append(model)
        assert rises[0] < rises[1] < rises[2]
        end = periodic_peak(g * one, x * cooling * one, b2 * one, 120.0 * one, 120.0 * one, 5400.0 * one,
                            9000.0 * one, 25.0)[0]
        assert rises[2] == pytest.approx(end)


def test_stretch_failure_by_hand() -> None:
    """Stretch 0 runs from 0.5 h ago for 1.6 h, one every 4 h; levels: the limits of a half and of a whole stretch."""
    ttf = np.array([[[5.0, 1.0],        # the whole-stretch limit crossed within stretch 0, the half one not by its half
                     [9.0, 3.5],        # crossed in the rest: the next stretch's end
                     [4.0, 3.5],        # ... and by then the half-stretch limit too: its half
                     [np.inf, np.inf],  # never
                     [0.0, 0.0]]])      # at the limit now: while working, now
    out = stretch_failure(ttf, np.array([-0.5]), np.array([1.6]), np.array([4.0]), np.array([[0.8, 1.6]]))
    assert out[0] == pytest.approx([1.1, 5.1, 4.3, np.inf, 0.3])
    # a row without a learnt rhythm keeps the whole-stretch crossing
    nan = np.full(1, np.nan)
    assert stretch_failure(ttf, nan, nan, nan, np.array([[np.nan, np.nan]]))[0] == pytest.approx(ttf[0, :, -1])


def test_critical_scale_reaches_the_limit_and_cooling_loss_needs_more_than_the_steady_state_says() -> None:
    one = np.ones(1)
    g, x = A1 / A2 * one, B1 / B2 * one
    duty = (g, x, B1 * one, B2 * one, 120.0 * one, 120.0 * one, 1.5 * 3600.0 * one, 2.5 * 3600.0 * one, 25.0, 95.0)
    s_cool = critical_scale(*duty, cooling=True)
    s_wind = critical_scale(*duty, cooling=False)
    at_cool = periodic_peak(g, x * s_cool, B1 / (x * s_cool), 120.0 * one, 120.0 * one, 5400.0 * one, 9000.0 * one,
                            25.0)
    at_wind = periodic_peak(g * s_wind, x, B2 * one, 120.0 * one, 120.0 * one, 5400.0 * one, 9000.0 * one, 25.0)
    assert np.allclose(at_cool, 95.0, rtol=1e-3) and np.allclose(at_wind, 95.0, rtol=1e-3)
    # the integrated model agrees that these are the limits (within the two-time-scale approximation)
    assert abs(integrate_peak(A1, A2, B1, B2 / s_cool[0], 120.0, 5400.0, 9000.0) - 95.0) < 0.1 * 95.0
    assert abs(integrate_peak(A1 * s_wind[0], A2, B1, B2, 120.0, 5400.0, 9000.0) - 95.0) < 0.1 * 95.0
    # a steady-state view (peak proportional to the gain) would put the cooling limit far too early
    steady_scale = (95.0 / (1 + COPPER_ALPHA * 95.0)) / (
        integrate_peak(A1, A2, B1, B2, 120.0, 5400.0, 9000.0) / (1 + COPPER_ALPHA * 40.0))
    assert s_cool[0] > 1.3 * steady_scale


def test_duty_rhythm_is_learnt_from_current_alone() -> None:
    est = EstimatorParams(window=10.0)
    th = ThermalEstimator(1, est, SpoofParams())
    one = np.ones(1, dtype=bool)
    t = 0.0
    for _ in range(4):  # work 1 h (with 20 s pauses that are not rests), rest 30 min
        for k in range(3600):
            cur = 0.0 if k % 600 < 20 else 10.0
            th.add(t, np.array([cur]), np.array([40.0]), np.array([35.0]), one)
            t += 1.0
        for _ in range(1800):
            th.add(t, np.array([0.0]), np.array([30.0]), np.array([30.0]), one)
            t += 1.0
    assert abs(th.work_len[0] - 3600.0) < 60.0, th.work_len
    assert abs(th.rest_len[0] - 1800.0) < 60.0, th.rest_len


def test_friction_estimate_knows_the_time_its_data_stand_for() -> None:
    """Coulomb friction ramping 1 N*m/h while the joint moves in 40-min stretches with 80-min stops: the estimate
    equals the truth at its data time, not at the clock (which it trails by more than the memory)."""
    fe = FrictionEstimator(1, 900.0)
    rng = np.random.default_rng(3)
    one = np.ones(1, dtype=bool)
    t, dt = 0.0, 1.0
    while t < 6 * 3600.0:
        moving = (t % 7200.0) < 2400.0
        q = 0.6 + 0.4 * np.sin(0.86 * t)
        w = 0.34 * np.cos(0.86 * t) if moving else 0.0
        fc = 1.5 + t / 3600.0
        tau = 40.0 * np.cos(q) + fc * np.sign(w) + 0.5 * w + rng.normal(0.0, 0.3)
        fe.add(t, np.array([q]), np.array([w]), np.array([tau]), one)
        t += dt
    # 6 h: the last stretch ran 4:00-4:40, so the clock is 80 min past it
    truth_at_data = 1.5 + fe.t_data[0] / 3600.0
    assert abs(fe.coulomb[0] - truth_at_data) < 0.1, (fe.coulomb, truth_at_data)
    assert 6 * 3600.0 - fe.t_data[0] > 900.0 + 80 * 60.0 - 1.0  # trails the clock by more than the memory


def test_bias_points_within_one_long_rest() -> None:
    """A sensor bias drifting 2 K/h during a 2 h rest gives several points that follow the drift."""
    rb = RestBias(1, EstimatorParams(rest_settle=300.0))
    one = np.ones(1, dtype=bool)
    seen, values = 0.0, []
    for k in range(7200 // 4):
        t = 4.0 * k
        rb.add(t, np.zeros(1), np.array([30.0 + 2.0 * t / 3600.0]), np.array([30.0]), one)
        if rb.seen[0] > seen + RestBias.MEMORY:
            seen = rb.seen[0]
            values.append((t, rb.bias[0]))
    assert len(values) >= 3
    t_last, b_last = values[-1]
    assert abs(b_last - 2.0 * t_last / 3600.0) < 0.3  # the EWMA trails the drift by its memory only


def test_bias_data_time_is_where_a_linear_drift_equals_the_estimate() -> None:
    """Round 25: the rest-time EWMA of a linear drift equals the drift at the EWMA's mean time exactly, so ``t_data``
    is where the trend's point belongs; the work stretch after the rest leaves both unchanged."""
    rb = RestBias(1, EstimatorParams(rest_settle=300.0))
    one = np.ones(1, dtype=bool)
    for k in range(int(5400 / 4)):  # 1.5 h at rest, then 1 h of work
        t = 4.0 * k
        rest = t < 3600.0
        rb.add(t, np.array([0.0 if rest else 5.0]), np.array([30.0 + 2.0 * t / 3600.0]), np.array([30.0]), one)
    assert rb.bias[0] == pytest.approx(2.0 * rb.t_data[0] / 3600.0, abs=1e-9)
    assert 3600.0 - 450.0 < rb.t_data[0] < 3600.0 - 300.0  # about the EWMA's memory (100 samples of 4 s) back
