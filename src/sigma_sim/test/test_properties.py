"""Property tests (hypothesis) of the pure models and of command validation."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from helpers import make_sim
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sim.battery import BatteryModel
from sigma_sim.faults import KINDS, FaultBook, FaultError
from sigma_sim.messages import stamp_from
from sigma_sim.simulation import CommandError, Simulation
from sigma_sim.thermal import ThermalModel, ThermalParams

steps = st.lists(st.tuples(st.floats(0.0, 3000.0), st.floats(1e-4, 0.1)), min_size=1, max_size=60)


@given(steps)
def test_battery_delivers_exactly_the_requested_energy(seq):
    b = BatteryModel(capacity_ah=5.0)
    soc, total = b.soc, 0.0
    for power, dt in seq:
        b.step(power, dt)
        total += power * dt
        assert b.voltage * b.current == np_approx(power)
        assert b.soc <= soc
        soc = b.soc
    assert b.energy_delivered == np_approx(total)


@given(st.lists(st.floats(0.0, 200.0), min_size=1, max_size=40), st.floats(0.01, 5.0))
def test_thermal_temperatures_stay_between_ambient_and_steady_state_bound(heats, dt):
    p = ThermalParams(np.array([16.3]), np.array([512.0]), np.array([1.07]), np.array([1.94]))
    m = ThermalModel(p, ambient=20.0)
    for q in heats:
        m.step(np.array([q]), dt)
        assert 20.0 - 1e-9 <= m.t_housing[0] <= m.t_winding[0] + 1e-9
        assert m.t_winding[0] <= 20.0 + max(heats) * (1.07 + 1.94) + 1e-6


@given(st.floats(0.0, 1e6))
def test_stamps_are_monotonic_and_exact_to_the_nanosecond(t):
    a, b = stamp_from(t), stamp_from(t + 1e-3)
    assert 0 <= a.nanosec < 1_000_000_000
    assert abs(a.sec + a.nanosec * 1e-9 - t) <= 1e-9 * max(1.0, t)
    assert (b.sec, b.nanosec) > (a.sec, a.nanosec)


def test_stamp_carries_into_the_next_second():
    assert (stamp_from(0.9999999999).sec, stamp_from(0.9999999999).nanosec) == (1, 0)


@given(st.text(max_size=20))
def test_unknown_fault_kinds_are_always_refused(kind):
    book = FaultBook(["left_knee"])
    if kind in KINDS:
        return
    try:
        book.inject("r1", kind, "left_knee", 1.0, 0.0, 0.0)
    except FaultError as exc:
        assert "unknown fault kind" in str(exc)
    else:
        raise AssertionError(f"{kind!r} accepted")


@cache
def _sim() -> Simulation:
    return make_sim()


JOINT = st.sampled_from(["left_knee", "left_elbow", "neck_pitch", "waist_yaw"])
VALUE = st.one_of(st.floats(-3.5, 3.5), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200)
@given(st.lists(st.tuples(JOINT, VALUE), min_size=1, max_size=4, unique_by=lambda x: x[0]))
def test_joint_targets_applied_iff_all_finite_and_within_limits(cmd):
    sim = _sim()
    before = sim.robots["r1"].target.copy()
    names, values = [n for n, _ in cmd], [v for _, v in cmd]
    valid = all(
        math.isfinite(v) and sim.lower[sim.joint_names.index(n)] <= v <= sim.upper[sim.joint_names.index(n)]
        for n, v in cmd
    )
    try:
        sim.set_joint_targets("r1", names, values)
    except CommandError:
        assert not valid
        assert np.array_equal(sim.robots["r1"].target, before)
    else:
        assert valid
        for n, v in cmd:
            assert sim.robots["r1"].target[sim.joint_names.index(n)] == v


def np_approx(x: float):
    return pytest.approx(x, rel=1e-9, abs=1e-9)
