"""The arbiter alone: screening of decisions, immediate downgrades, upgrades after the dwell, reasons."""

from __future__ import annotations

import math

import pytest

from sigma_core.core.arbiter import Arbiter, ArbiterParams, Decision, Mode

P = ArbiterParams(upgrade_dwell=1.0)


def step(a, now, allowed=0, conf=1.0, age=0.0):
    return a.step(now, allowed, age, conf, "test")


def test_starts_in_mechanical_fallback_and_upgrades_to_edge_only_after_the_dwell():
    a = Arbiter(P)
    assert a.mode == Mode.MECHANICAL
    assert step(a, 0.0, allowed=1) is None
    assert step(a, 0.95, allowed=1) is None
    sw = step(a, 1.0, allowed=1)
    assert sw.current == Mode.EDGE and "dwell" in sw.reason and sw.sequence == 1


@pytest.mark.parametrize("decision, words", [
    (Decision("a", 9.0, 9.5, 0.9), "past its deadline"),
    (Decision("b", 10.0, 10.0 + 1e4, 0.9), "exceeds"),
    (Decision("c", 10.0, 11.0, math.nan), "non-finite"),
    (Decision("d", 10.0, 11.0, 1.5), "outside [0, 1]"),
    (Decision("e", 10.0, 11.0, 0.9, source=1), "not the Primary AI"),
    (Decision("f", -100.0, 11.0, 0.9), "stamp"),
    (Decision("", 10.0, 11.0, 0.9), "without an id"),
    (Decision("g", 10.0, 11.0, 0.1), "below"),
])
def test_bad_decisions_are_refused_with_the_reason(decision, words):
    v = Arbiter(P).screen(decision, 10.0)
    assert not v.applied and words in v.reason


def test_duplicates_and_out_of_order_decisions_are_never_applied():
    a = Arbiter(P)
    assert a.screen(Decision("n2", 10.0, 12.0, 0.9), 10.0).applied
    assert "duplicate" in a.screen(Decision("n2", 10.5, 12.5, 0.9), 10.5).reason
    assert "out of order" in a.screen(Decision("n1", 9.9, 12.5, 0.9), 10.5).reason
    assert a.lease.decision_id == "n2"


def test_primary_lease_commands_after_dwell_and_a_missed_deadline_downgrades_on_the_next_tick():
    a = Arbiter(P)
    t = 0.0
    while t < 1.2:
        step(a, t)
        t += 0.05
    assert a.mode == Mode.EDGE
    a.screen(Decision("p1", t, t + 3.0, 0.9), t)
    deadline = t + 3.0
    while a.mode != Mode.PRIMARY:
        step(a, t)
        t += 0.05
    assert t < deadline
    sw = None
    while sw is None:
        t += 0.05
        sw = step(a, t)
    assert sw.current == Mode.EDGE and "past its deadline" in sw.reason and sw.decision_id == "p1"
    assert t >= deadline and sw.trigger_delay == pytest.approx(t - deadline) and sw.trigger_delay < 0.05


def test_never_above_what_safety_allows_and_stale_safety_means_nothing():
    a = Arbiter(P)
    a.screen(Decision("p1", 0.0, 50.0, 0.9), 0.0)
    for k in range(60):
        step(a, k * 0.05, allowed=1)
        assert a.mode != Mode.PRIMARY
    sw = a.step(3.0, 1, 0.6, 1.0, "")          # safety status 0.6 s old
    assert sw.current == Mode.MECHANICAL and "status stale" in sw.reason
    sw = step(a, 3.05, allowed=2)
    assert sw is None and a.mode == Mode.MECHANICAL


def test_edge_confidence_collapse_downgrades_at_once_and_recovers_after_dwell():
    a = Arbiter(P)
    for k in range(30):
        step(a, k * 0.05, allowed=1)
    assert a.mode == Mode.EDGE
    sw = a.step(1.5, 1, 0.0, 0.2, "odometry stale")
    assert sw.current == Mode.MECHANICAL and "edge confidence 0.20 < 0.5 (odometry stale)" in sw.reason
    for k in range(1, 20):
        assert step(a, 1.5 + k * 0.05, allowed=1) is None
    assert step(a, 2.56, allowed=1).current == Mode.EDGE   # eligible again from 1.55 s
    fr = a.mode_fractions()
    assert sum(fr.values()) == pytest.approx(1.0) and fr["mechanical_fallback"] > 0
