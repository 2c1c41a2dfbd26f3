"""Property test of the site maintenance planner (hypothesis): for any fleet of needs, policy and time, every robot
is planned once, each window ends the lead time before its robot's predicted limit and starts no earlier than now
and the report, at no instant are more than K robots of the site out, and each robot takes the earliest off-peak
slot that is free (given the robots with earlier deadlines), else the earliest free slot; a robot is infeasible
only when no slot is free or the lead time no longer fits."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_cloud.core.maintenance_plan import HOUR, Need, Policy, Window, is_off_peak, plan

DAY0 = 1_800_000_000 - 1_800_000_000 % 86400  # a UTC midnight


def _out_at(windows: list[Window], t: float) -> int:
    return sum(1 for w in windows if w.start <= t < w.end)


def _free(windows: list[Window], start: float, end: float, k: int) -> bool:
    """Fewer than k out at every instant of [start, end): checked at start and wherever another window begins."""
    instants = [start] + [w.start for w in windows if start < w.start < end]
    return all(_out_at(windows, t) < k for t in instants)


@st.composite
def cases(draw):
    policy = Policy(lead_time_h=draw(st.sampled_from([0.0, 0.25, 1.0, 3.0])),
                    duration_h=draw(st.sampled_from([0.5, 1.0, 2.0, 4.0])), max_out=draw(st.integers(1, 3)),
                    off_peak_start_hour=draw(st.integers(0, 23)), off_peak_end_hour=draw(st.integers(0, 24)),
                    step_h=draw(st.sampled_from([0.25, 0.5])), horizon_h=draw(st.sampled_from([12.0, 336.0])))
    now = DAY0 + draw(st.floats(0.0, 86400.0))
    needs = [Need(f"r{draw(st.integers(0, 11))}", draw(st.sampled_from(["knee", "battery", "elbow"])),
                  draw(st.sampled_from(["thermal", "friction"])), now + draw(st.floats(-1.0, 60.0)) * HOUR,
                  now + draw(st.floats(-3.0, 2.0)) * HOUR, draw(st.floats(0.0, 1.0)))
             for _ in range(draw(st.integers(0, 16)))]
    return policy, now, needs


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cases())
def test_every_plan_honours_lead_time_k_out_and_off_peak_first(case):
    policy, now, needs = case
    out = plan(needs, policy, now)
    first_need = {}
    for n in needs:
        if n.robot_id not in first_need or n.deadline < first_need[n.robot_id].deadline:
            first_need[n.robot_id] = n
    planned = [w.robot_id for w in out.windows] + [u.robot_id for u in out.infeasible]
    assert sorted(planned) == sorted(first_need)  # every robot once, with its earliest limit
    dur, lead, step = policy.duration_h * HOUR, policy.lead_time_h * HOUR, policy.step_h * HOUR
    for w in out.windows:
        n = first_need[w.robot_id]
        assert (w.component, w.deadline) == (n.component, n.deadline)
        assert w.start >= max(now, n.earliest) - 1e-6
        assert w.end - w.start == dur and w.end <= w.deadline - lead + 1e-6
        assert w.off_peak == is_off_peak(w.start, w.end, policy)
    for t in [w.start for w in out.windows]:
        assert _out_at(out.windows, t) <= policy.max_out
    # earliest deadline first: each robot sees only the windows of robots with earlier deadlines
    by_robot = {w.robot_id: w for w in out.windows}
    unplaced = {u.robot_id: u for u in out.infeasible}
    order = sorted(first_need.values(), key=lambda n: (n.deadline, -n.risk, n.robot_id))
    placed: list[Window] = []
    for n in order:
        begin = max(now, n.earliest)
        latest = n.deadline - lead - dur
        if latest < begin:
            assert "lead time" in unplaced[n.robot_id].reason
            continue
        grid0 = math.ceil(begin / step) * step
        last = min(latest, now + policy.horizon_h * HOUR)
        slots = [grid0 + i * step for i in range(int((last - grid0) // step) + 1)] if last >= grid0 else [begin]
        free = [s for s in slots if _free(placed, s, s + dur, policy.max_out)]
        quiet = [s for s in free if is_off_peak(s, s + dur, policy)]
        if not free:
            assert "already out" in unplaced[n.robot_id].reason
            continue
        w = by_robot[n.robot_id]
        assert w.start == (quiet or free)[0], (w, quiet[:3], free[:3])  # off-peak first, then the earliest
        placed.append(w)
