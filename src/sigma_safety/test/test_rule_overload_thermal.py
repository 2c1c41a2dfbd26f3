"""Rules 1 and 2: motor overload (peak and I²t) and thermal derating/shutdown with reset hysteresis."""

from __future__ import annotations

import pytest
from helpers import limits

from sigma_safety.core.model import ActuatorSample, JointSample, Severity, Snapshot
from sigma_safety.core.rules.overload import I2T_EXCEEDED, I2T_WARNING, PEAK_EFFORT, OverloadParams, OverloadRule
from sigma_safety.core.rules.thermal import DERATING, SHUTDOWN, ThermalParams, ThermalRule

LIM = limits()
NAMES = tuple(LIM)


def _joints(effort: dict[str, float]) -> Snapshot:
    e = tuple(effort.get(n, 0.0) for n in NAMES)
    return Snapshot(joints=JointSample(NAMES, (0.0,) * 4, (0.0,) * 4, e, 0.0))


def _temps(temp: dict[str, float]) -> Snapshot:
    t = tuple(temp.get(n, 30.0) for n in NAMES)
    return Snapshot(actuators=ActuatorSample(NAMES, t, (0.0,) * 4, 0.0))


def test_peak_effort_cuts_immediately_and_boundary_does_not():
    rule = OverloadRule(OverloadParams(), LIM)
    assert rule.evaluate(_joints({"left_knee": 200.0}), 0.0).faults == ()  # exactly at peak: allowed
    out = rule.evaluate(_joints({"left_knee": -200.5}), 0.01)
    (f,) = out.faults
    assert (f.code, f.source, f.severity, f.latched) == (PEAK_EFFORT, "left_knee", Severity.EMERGENCY_STOP, True)
    assert f.value == 200.5 and f.limit == 200.0


def test_i2t_accumulates_above_continuous_rating_then_warns_then_cuts():
    p = OverloadParams(continuous_ratio=0.5, i2t_budget=1.0, warning_fraction=0.8)
    rule = OverloadRule(p, LIM)
    snap = _joints({"left_knee": 0.9 * 200.0})  # x² - c² = 0.81 - 0.25 = 0.56 per second
    t, codes = 0.0, []
    rule.evaluate(snap, t)
    while t < 3.0:
        t += 0.1
        out = rule.evaluate(snap, t)
        codes.append({f.code for f in out.faults})
        if I2T_WARNING in codes[-1]:
            assert out.torque_scale == 0.5
    first_warn = next(i for i, c in enumerate(codes) if I2T_WARNING in c)
    first_cut = next(i for i, c in enumerate(codes) if I2T_EXCEEDED in c)
    assert first_warn < first_cut
    assert (first_cut + 1) * 0.1 == pytest.approx(1.0 / 0.56, abs=0.11)


def test_the_i2t_torque_cap_holds_at_the_continuous_rating_until_cooled_below_the_release_share():
    p = OverloadParams(continuous_ratio=0.5, i2t_budget=1.0, warning_fraction=0.8, release_fraction=0.6)
    rule = OverloadRule(p, LIM)
    rule.accumulated["left_knee"] = 0.81
    rule.evaluate(_joints({"left_knee": 100.0}), 0.0)
    scales = []
    for k in range(1, 21):  # a jammed joint held at the cap (x = 0.5): the integral stands still, the cap stays
        out = rule.evaluate(_joints({"left_knee": 100.0}), k * 0.1)
        scales.append(out.torque_scale)
        assert {f.code for f in out.faults} == {I2T_WARNING}
    assert scales == [0.5] * 20 and rule.accumulated["left_knee"] == pytest.approx(0.81)
    # Load relieved: it cools at c² = 0.25/s; the cap stays between 80 % and 60 % (no chatter at the threshold).
    t, capped = 2.0, []
    while rule.accumulated["left_knee"] > 0.5:
        t += 0.1
        capped.append((rule.evaluate(_joints({"left_knee": 0.0}), t).torque_scale, rule.accumulated["left_knee"]))
    assert all(scale == 0.5 for scale, acc in capped if acc >= 0.6)
    assert all(scale == 1.0 for scale, acc in capped if acc < 0.6) and capped[-1][0] == 1.0
    with pytest.raises(ValueError, match="release_fraction"):
        OverloadParams(warning_fraction=0.5, release_fraction=0.6)


def test_i2t_below_continuous_never_accumulates_and_cools_down():
    rule = OverloadRule(OverloadParams(i2t_budget=1.0), LIM)
    rule.evaluate(_joints({"left_knee": 0.0}), 0.0)
    for k in range(1, 41):
        assert rule.evaluate(_joints({"left_knee": 0.5 * 200.0 - 1.0}), k * 0.1).faults == ()
    assert rule.accumulated["left_knee"] == 0.0
    rule.accumulated["left_knee"] = 0.5  # heated; at zero effort it cools at c² = 0.25 per second
    for k in range(41, 62):
        rule.evaluate(_joints({"left_knee": 0.0}), k * 0.1)
    assert rule.accumulated["left_knee"] == 0.0


def test_thermal_derates_linearly_and_shuts_down_at_limit():
    rule = ThermalRule(ThermalParams(warning_temperature=70.0, limit_temperature=90.0, reset_temperature=60.0))
    assert rule.evaluate(_temps({"left_knee": 70.0}), 0).speed_scale == 1.0
    out = rule.evaluate(_temps({"left_knee": 80.0}), 0)
    assert out.speed_scale == pytest.approx(0.5) and out.torque_scale == pytest.approx(0.5)
    assert [f.code for f in out.faults] == [DERATING]
    out = rule.evaluate(_temps({"left_knee": 90.0}), 0)
    assert out.speed_scale == 0.0
    assert [(f.code, f.latched, f.severity) for f in out.faults] == [(SHUTDOWN, True, Severity.EMERGENCY_STOP)]


def test_thermal_shutdown_stays_active_until_below_reset_temperature():
    rule = ThermalRule(ThermalParams())
    rule.evaluate(_temps({"neck_yaw": 95.0}), 0)
    for temp in (85.0, 70.0, 60.0):  # cooling, still at or above the reset temperature
        assert [f.code for f in rule.evaluate(_temps({"neck_yaw": temp}), 0).faults] == [SHUTDOWN]
    assert rule.evaluate(_temps({"neck_yaw": 59.9}), 0).faults == ()
