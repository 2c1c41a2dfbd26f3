"""A twin report restamped between forecasts stays one forecast: its absolute window is unchanged and its remaining
useful life counts down, so stamp + RUL q05 is still the window's close (the cloud's plan relies on it)."""

from __future__ import annotations

import math

import pytest

from sigma_interfaces.msg import ComponentHealth, TwinHealth
from sigma_twin.twin_node import _stamp_s, _time, restamp


def _report(t: float, q05: float, q50: float, q95: float) -> TwinHealth:
    msg = TwinHealth()
    msg.header.stamp = _time(t)
    knee = ComponentHealth(name="left_knee", rul_q05=q05, rul_q50=q50, rul_q95=q95)
    knee.window_end = _time(t + q05 * 3600.0)
    msg.actuators = [knee]
    msg.battery = ComponentHealth(name="battery", rul_q05=math.inf, rul_q50=math.inf, rul_q95=math.inf)
    return msg


def test_restamped_report_keeps_its_window_and_counts_the_rul_down() -> None:
    msg = _report(1000.0, 2.0, 3.0, 4.0)
    close = _stamp_s(msg.actuators[0].window_end)
    for t in (1176.0, 1500.0, 4600.0):  # three restamps in a row: the count-down accumulates
        restamp(msg, t)
        knee = msg.actuators[0]
        assert _stamp_s(msg.header.stamp) == pytest.approx(t)
        assert t + knee.rul_q05 * 3600.0 == pytest.approx(close, abs=1e-3)
        assert _stamp_s(knee.window_end) == close
    assert (knee.rul_q05, knee.rul_q50, knee.rul_q95) == pytest.approx((1.0, 2.0, 3.0))  # 3600 s after the forecast
    assert math.isinf(msg.battery.rul_q05)  # "no crossing within the horizon" stays so


def test_a_passed_limit_stays_at_zero() -> None:
    msg = _report(1000.0, 0.1, 0.2, 0.3)
    restamp(msg, 1000.0 + 3600.0)
    assert (msg.actuators[0].rul_q05, msg.actuators[0].rul_q50, msg.actuators[0].rul_q95) == (0.0, 0.0, 0.0)
