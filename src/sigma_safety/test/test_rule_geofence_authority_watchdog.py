"""Rules 5, 7 and 8: geofence, AI self-suspension with the degradation chain, and input watchdogs."""

from __future__ import annotations

import math

import pytest
from helpers import site

from sigma_safety.core.model import Authority, OdomSample, PolicyReport, Severity, Snapshot
from sigma_safety.core.params import ConfigError
from sigma_safety.core.rules.authority import NO_AUTHORITY, AuthorityParams, AuthorityRule
from sigma_safety.core.rules.geofence import (
    NEAR_BOUNDARY,
    OUTSIDE,
    PREDICTED_VIOLATION,
    GeofenceParams,
    GeofenceRule,
    load_site,
)
from sigma_safety.core.rules.watchdog import STALE, WatchdogParams, WatchdogRule

G = GeofenceParams()


def _odom(x: float, y: float = 0.0, vx: float = 0.0, yaw: float = 0.0) -> Snapshot:
    return Snapshot(odom=OdomSample(x, y, yaw, vx, 0.0, 0.0, 0.0))


def test_site_margin_keep_in_and_keep_out():
    s = site()
    assert s.margin((0.0, 0.0)) == (pytest.approx(3.0), "keep_out:pit")
    assert s.margin((3.5, 0.0))[0] == pytest.approx(-0.5)
    assert s.margin((-4.5, 0.0)) == (pytest.approx(0.5), "keep_in:room")
    assert s.margin((-6.0, 0.0))[0] == pytest.approx(-1.0)


def test_geofence_slows_near_boundary_then_stops_on_predicted_violation():
    rule = GeofenceRule(G, site())
    assert rule.evaluate(_odom(0.0), 0.0).faults == ()
    out = rule.evaluate(_odom(2.5), 0.1)  # 0.5 m from the pit
    assert out.speed_scale == pytest.approx(0.5) and out.faults[0].code == NEAR_BOUNDARY
    out = rule.evaluate(_odom(2.5, vx=2.0), 0.2)  # stopping point 2.5 + 2 * 0.35 = 3.2: inside the pit
    assert out.speed_scale == 0.0 and out.faults[0].code == PREDICTED_VIOLATION
    assert out.faults[0].severity == Severity.PROTECTIVE_STOP
    assert rule.evaluate(_odom(2.5), 0.2 + G.resume_delay - 0.01).speed_scale == 0.0  # hysteresis
    assert rule.evaluate(_odom(2.5), 0.2 + G.resume_delay).faults[0].code == NEAR_BOUNDARY


def test_geofence_prediction_uses_heading_and_outside_stops():
    rule = GeofenceRule(G, site())
    # moving "forward" with yaw = pi/2 goes +y: away from the pit, towards y = 5
    out = rule.evaluate(_odom(2.5, y=-3.0, vx=2.0, yaw=math.pi / 2), 0.0)
    assert all(f.code != PREDICTED_VIOLATION for f in out.faults)
    out = rule.evaluate(_odom(3.5), 1.0)
    assert out.faults[0].code == OUTSIDE and out.speed_scale == 0.0
    assert GeofenceRule(G, None).evaluate(_odom(100.0), 0.0).faults == ()


def test_bad_geofence_config_is_refused_by_name():
    with pytest.raises(ConfigError, match="site 'nope' not found"):
        load_site({"sites": {"a": {}}}, "nope")
    with pytest.raises(ConfigError, match="at least 3"):
        load_site({"sites": {"a": {"keep_in": {"x": [[0, 0], [1, 1]]}}}}, "a")
    with pytest.raises(ConfigError, match="vertex 1"):
        load_site({"sites": {"a": {"keep_in": {"x": [[0, 0], [1, "a"], [1, 1]]}}}}, "a")
    with pytest.raises(ConfigError, match="no keep_in"):
        load_site({"sites": {"a": {"keep_out": {}}}}, "a")


def _report(rule: AuthorityRule, who: Authority, conf: float, t: float, n: int = 1) -> None:
    for _ in range(n):
        rule.observe(PolicyReport(who, conf, t))


def test_authority_is_earned_then_suspended_after_n_low_reports():
    p = AuthorityParams(suspend_count=3, recover_count=5)
    rule = AuthorityRule(p)
    out = rule.evaluate(Snapshot(), 0.0)
    assert out.authority == Authority.MECHANICAL_FALLBACK and NO_AUTHORITY in {f.code for f in out.faults}
    _report(rule, Authority.EDGE_AI, 0.9, 0.0, 5)
    _report(rule, Authority.PRIMARY_AI, 0.9, 0.0, 4)
    assert rule.evaluate(Snapshot(), 0.0).authority == Authority.EDGE_AI  # primary not yet qualified
    _report(rule, Authority.PRIMARY_AI, 0.9, 0.0)
    assert rule.evaluate(Snapshot(), 0.0).authority == Authority.PRIMARY_AI
    _report(rule, Authority.PRIMARY_AI, 0.2, 0.1, 2)
    assert rule.evaluate(Snapshot(), 0.1).authority == Authority.PRIMARY_AI  # 2 < suspend_count
    _report(rule, Authority.PRIMARY_AI, 0.2, 0.1)
    assert rule.evaluate(Snapshot(), 0.1).authority == Authority.EDGE_AI
    assert any("primary_ai suspended" in n for n in rule.drain_notes())
    _report(rule, Authority.EDGE_AI, float("nan"), 0.1, 3)  # non-finite counts as no confidence
    assert rule.evaluate(Snapshot(), 0.1).authority == Authority.MECHANICAL_FALLBACK


def test_recovery_needs_consecutive_good_reports_and_stale_reports_suspend():
    p = AuthorityParams(recover_count=5, recover_threshold=0.7, max_report_age=0.5)
    rule = AuthorityRule(p)
    _report(rule, Authority.PRIMARY_AI, 0.9, 0.0, 4)
    _report(rule, Authority.PRIMARY_AI, 0.6, 0.0)  # between thresholds: breaks the streak
    _report(rule, Authority.PRIMARY_AI, 0.9, 0.0, 4)
    assert rule.evaluate(Snapshot(), 0.0).authority == Authority.MECHANICAL_FALLBACK
    _report(rule, Authority.PRIMARY_AI, 0.9, 0.0)
    assert rule.evaluate(Snapshot(), 0.5).authority == Authority.PRIMARY_AI
    assert rule.evaluate(Snapshot(), 0.51).authority == Authority.MECHANICAL_FALLBACK  # stale
    assert any("no confidence report" in n for n in rule.drain_notes())


def test_watchdog_flags_never_received_and_stale_inputs():
    rule = WatchdogRule(WatchdogParams(), started=0.0)
    out = rule.evaluate(Snapshot(), 0.0)
    assert {f.source for f in out.faults} == {"joint_states", "imu", "actuator_health", "humans", "odom",
                                              "battery_state"}
    assert all(f.code == STALE and "no message received yet" in f.cause for f in out.faults)
    snap = Snapshot(odom=OdomSample(0, 0, 0, 0, 0, 0, 1.0), battery_received=1.0)
    sources = {f.source for f in rule.evaluate(snap, 1.29).faults}
    assert "odom" not in sources and "battery_state" not in sources
    assert "odom" in {f.source for f in rule.evaluate(snap, 1.31).faults}
