"""The site maintenance planner (pure): constraints hold, earliest deadline first, off-peak first, reasons."""

from __future__ import annotations

import random

import pytest

from sigma_cloud.core.maintenance_plan import HOUR, Need, Policy, Window, is_off_peak, peak_out, plan

DAY0 = 1_800_000_000 - 1_800_000_000 % 86400  # a UTC midnight
NOON = DAY0 + 12 * HOUR


def need(robot: str, deadline_h: float, now: float = NOON) -> Need:
    return Need(robot, "knee_l", "thermal", now + deadline_h * HOUR, now)


def test_off_peak_span_wraps_midnight():
    p = Policy(off_peak_start_hour=22, off_peak_end_hour=6)
    assert is_off_peak(DAY0 + 22 * HOUR, DAY0 + 24 * HOUR, p)
    assert is_off_peak(DAY0 + 4 * HOUR, DAY0 + 6 * HOUR, p)
    assert not is_off_peak(DAY0 + 5 * HOUR, DAY0 + 7 * HOUR, p)
    assert not is_off_peak(DAY0 + 12 * HOUR, DAY0 + 14 * HOUR, p)


def test_window_is_off_peak_when_the_deadline_allows_and_ends_lead_time_before_it():
    p = Policy(lead_time_h=2, duration_h=2, max_out=1)
    out = plan([need("r1", 30.0)], p, NOON)  # deadline 18:00 next day: tonight's 22:00 slot fits
    (w,) = out.windows
    assert w.start == DAY0 + 22 * HOUR and w.end == w.start + 2 * HOUR and w.off_peak
    assert w.end <= w.deadline - 2 * HOUR and not out.infeasible


def test_urgent_robot_goes_now_at_any_hour():
    out = plan([need("r1", 5.0)], Policy(lead_time_h=2, duration_h=2), NOON)
    (w,) = out.windows
    assert w.start == NOON and not w.off_peak


def test_earliest_deadline_first_and_at_most_k_out():
    p = Policy(lead_time_h=1, duration_h=2, max_out=1, off_peak_start_hour=22, off_peak_end_hour=6)
    out = plan([need("late", 40.0), need("early", 20.0)], p, NOON)
    assert [w.robot_id for w in out.windows] == ["early", "late"]
    early, late = out.windows
    assert early.start == DAY0 + 22 * HOUR and late.start >= early.end and late.off_peak


def test_infeasible_plans_say_why():
    p = Policy(lead_time_h=2, duration_h=2, max_out=1)
    out = plan([need("a", 4.5), need("b", 4.6), need("c", 3.0)], p, NOON)
    reasons = {u.robot_id: u.reason for u in out.infeasible}
    assert "lead time" in reasons["c"]  # 3 h < lead + duration
    assert [w.robot_id for w in out.windows] == ["a"]
    assert "already out" in reasons["b"]  # a holds the only slot before b's latest start


def test_one_window_per_robot_for_its_earliest_component():
    out = plan([need("r", 50.0), Need("r", "battery", "capacity_fade", NOON + 20 * HOUR, NOON)], Policy(), NOON)
    (w,) = out.windows
    assert w.component == "battery"


@pytest.mark.parametrize("seed", range(20))
def test_random_fleets_respect_every_constraint(seed):
    rng = random.Random(seed)
    p = Policy(lead_time_h=rng.choice([0.0, 1.0, 3.0]), duration_h=rng.choice([1.0, 2.0, 4.0]),
               max_out=rng.randint(1, 3), off_peak_start_hour=rng.randint(0, 23), off_peak_end_hour=rng.randint(0, 24))
    now = NOON + rng.random() * 86400
    needs = [need(f"r{i}", rng.uniform(0.5, 72.0), now) for i in range(rng.randint(1, 25))]
    out = plan(needs, p, now)
    assert len(out.windows) + len(out.infeasible) == len(needs)
    for w in out.windows:
        assert now <= w.start and w.end - w.start == pytest.approx(p.duration_h * HOUR)
        assert w.end <= w.deadline - p.lead_time_h * HOUR + 1e-6
        assert w.off_peak == is_off_peak(w.start, w.end, p)
    for t in [w.start for w in out.windows]:  # concurrency peaks at some window's start
        assert sum(1 for w in out.windows if w.start <= t < w.end) <= p.max_out
    deadlines = [w.deadline for w in out.windows]
    assert deadlines == sorted(deadlines)
    assert all(u.reason for u in out.infeasible)


def test_k_counts_robots_out_at_one_instant_not_windows_touching_a_slot():
    # two back-to-back windows never overlap each other: a slot across their seam has one robot out at any instant
    a = Window("a", "knee", "thermal", NOON, NOON + 2 * HOUR, NOON + 9 * HOUR, False)
    b = Window("b", "knee", "thermal", NOON + 2 * HOUR, NOON + 4 * HOUR, NOON + 9 * HOUR, False)
    assert peak_out([a, b], NOON + HOUR, NOON + 3 * HOUR) == 1
    assert peak_out([a, b, Window("c", "knee", "thermal", NOON + 1.5 * HOUR, NOON + 2.5 * HOUR, 0, False)],
                    NOON + HOUR, NOON + 3 * HOUR) == 2
    assert peak_out([a, b], NOON + 4 * HOUR, NOON + 5 * HOUR) == 0


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError):
        Policy(max_out=0)
