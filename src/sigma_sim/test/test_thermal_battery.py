"""Thermal and battery models against their analytic solutions and energy bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sim.battery import BatteryModel, motor_power, open_circuit_voltage
from sigma_sim.thermal import ThermalModel, ThermalParams, step_response, winding_resistance

OSL = {"c_w": 16.29, "c_h": 512.25, "r_wh": 1.0703, "r_ha": 1.9407}


def _model(n: int = 1) -> ThermalModel:
    p = ThermalParams(np.full(n, OSL["c_w"]), np.full(n, OSL["c_h"]), np.full(n, OSL["r_wh"]), np.full(n, OSL["r_ha"]))
    return ThermalModel(p, ambient=25.0)


@pytest.mark.parametrize("t_end", [5.0, 60.0, 1200.0])
def test_thermal_step_response_matches_analytic_solution(t_end):
    model, power, dt = _model(), 20.0, 0.05
    for _ in range(round(t_end / dt)):
        model.step(np.array([power]), dt)
    tw, th = step_response(OSL["c_w"], OSL["c_h"], OSL["r_wh"], OSL["r_ha"], power, t_end, ambient=25.0)
    assert model.t_winding[0] == pytest.approx(tw, abs=0.05 + 0.002 * (tw - 25))
    assert model.t_housing[0] == pytest.approx(th, abs=0.05 + 0.002 * (th - 25))


def test_thermal_steady_state_and_cooling_failure():
    tw_ss = 25.0 + 10.0 * (OSL["r_wh"] + OSL["r_ha"])
    assert step_response(**OSL, power=10.0, t=1e6, ambient=25.0)[0] == pytest.approx(tw_ss, rel=1e-6)
    healthy, failed = _model(), _model()
    failed.cooling_factor[:] = 10.0
    for _ in range(300):
        healthy.step(np.array([10.0]), 10.0)
        failed.step(np.array([10.0]), 10.0)
    assert failed.t_housing[0] > healthy.t_housing[0] + 25.0
    assert failed.t_winding[0] > healthy.t_winding[0] + 25.0


def test_copper_resistance_rises_with_temperature():
    r = winding_resistance(np.array([0.2]), np.array([125.0]))
    assert r[0] == pytest.approx(0.2 * (1 + 0.00393 * 100))


def test_battery_energy_drawn_matches_integrated_power():
    battery, dt = BatteryModel(capacity_ah=2.0), 0.01
    rng = np.random.default_rng(3)
    integrated = 0.0
    charge = 0.0
    for _ in range(20000):
        p = float(rng.uniform(50, 800))
        battery.step(p, dt)
        integrated += p * dt
        charge += battery.current * dt
        # terminal power equals the load: V_term * I = P
        assert battery.voltage * battery.current == pytest.approx(p, rel=1e-9)
    assert battery.energy_delivered == pytest.approx(integrated, rel=1e-12)
    assert battery.soc == pytest.approx(1.0 - charge / (2.0 * 3600.0), abs=1e-9)
    assert battery.voltage < open_circuit_voltage(1.0)


def test_ocv_curve_is_monotonic_and_sag_drops_voltage():
    socs = np.linspace(0, 1, 50)
    assert np.all(np.diff([open_circuit_voltage(s) for s in socs]) > 0)
    ok, sag = BatteryModel(), BatteryModel(extra_resistance=2.0)
    ok.step(200.0, 0.1)
    sag.step(200.0, 0.1)
    assert ok.voltage - sag.voltage == pytest.approx(2.0 * sag.current + 0.08 * (sag.current - ok.current), rel=1e-6)
    assert ok.voltage - sag.voltage > 5.0


def test_brownout_caps_power_at_maximum_transfer():
    b = BatteryModel(internal_resistance=1.0)
    b.step(1e6, 0.01)
    assert b.voltage == pytest.approx(open_circuit_voltage(1.0) / 2)


def test_motor_power_adds_copper_losses_and_ignores_regeneration():
    p = motor_power(np.array([10.0, 10.0]), np.array([2.0, -5.0]), np.array([3.0, 3.0]), np.array([0.5, 0.5]))
    assert p[0] == pytest.approx(20.0 + 4.5)
    assert p[1] == 0.0
