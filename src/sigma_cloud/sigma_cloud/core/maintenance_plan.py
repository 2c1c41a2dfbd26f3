"""Site maintenance planning (pure: no database, no clock; time passed in as UNIX seconds).

Each robot the digital twin (sigma_twin, channel ``twin_health``) flags has a deadline: the time its first component
is predicted to reach a limit (the twin's window close = RUL 5 % quantile). A service window of ``duration_h`` must
end ``lead_time_h`` before that deadline and may not start before the twin's window opens nor before now. At most
``max_out`` robots of a site are out at any instant (two windows that do not overlap each other may both overlap a
new one). Robots are placed earliest deadline first; each takes the earliest off-peak slot that fits, else the
earliest slot at any hour; a robot that fits nowhere is reported with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOUR = 3600.0


@dataclass(frozen=True)
class Policy:
    """A site's maintenance policy; hours of the day are UTC, an off-peak span may wrap midnight (22 -> 6)."""

    lead_time_h: float = 2.0
    duration_h: float = 2.0
    max_out: int = 1
    off_peak_start_hour: int = 22
    off_peak_end_hour: int = 6
    step_h: float = 0.25
    horizon_h: float = 14 * 24.0

    def __post_init__(self) -> None:
        if not (self.lead_time_h >= 0 and self.duration_h > 0 and self.max_out >= 1 and self.step_h > 0
                and self.horizon_h > 0):
            raise ValueError("policy needs lead_time_h >= 0, duration_h > 0, max_out >= 1, step_h > 0, horizon_h > 0")
        if not (0 <= self.off_peak_start_hour <= 23 and 0 <= self.off_peak_end_hour <= 24):
            raise ValueError("off-peak hours must be in 0..23 (start) and 0..24 (end)")


@dataclass(frozen=True)
class Need:
    """One robot's predicted limit: the component, its failure mode, the deadline and the earliest start [UNIX s]."""

    robot_id: str
    component: str
    mode: str
    deadline: float
    earliest: float
    risk: float = 1.0


@dataclass(frozen=True)
class Window:
    robot_id: str
    component: str
    mode: str
    start: float
    end: float
    deadline: float
    off_peak: bool


@dataclass(frozen=True)
class Unplaced:
    robot_id: str
    component: str
    mode: str
    deadline: float
    reason: str


@dataclass
class Plan:
    windows: list[Window] = field(default_factory=list)
    infeasible: list[Unplaced] = field(default_factory=list)


def _hour_of_day(t: float) -> float:
    return (t % 86400.0) / HOUR


def is_off_peak(start: float, end: float, policy: Policy) -> bool:
    """True when [start, end] lies inside the daily off-peak span (checked at every quarter hour and the end)."""
    a, b = policy.off_peak_start_hour, policy.off_peak_end_hour
    if a == b % 24:  # the whole day is off-peak
        return True

    def inside(t: float) -> bool:
        h = _hour_of_day(t)
        return a <= h < b if a < b else (h >= a or h < b)

    n = max(1, math.ceil((end - start) / (0.25 * HOUR)))
    points = [start + i * (end - start) / n for i in range(n)]
    return all(inside(t) for t in points) and (inside(end) or _hour_of_day(end) == b % 24)


def peak_out(windows: list[Window], start: float, end: float) -> int:
    """Most windows out at one instant of [start, end): the count only rises at ``start`` or at a window's start."""
    inside = [w for w in windows if w.start < end and start < w.end]
    instants = [start] + [w.start for w in inside if w.start > start]
    return max((sum(1 for w in inside if w.start <= t < w.end) for t in instants), default=0)


def plan(needs: list[Need], policy: Policy, now: float) -> Plan:
    """Place one window per robot (its earliest deadline), earliest deadline first; constraints as the module says."""
    per_robot: dict[str, Need] = {}
    for n in needs:
        if n.robot_id not in per_robot or n.deadline < per_robot[n.robot_id].deadline:
            per_robot[n.robot_id] = n
    out = Plan()
    dur, lead, step = policy.duration_h * HOUR, policy.lead_time_h * HOUR, policy.step_h * HOUR
    for n in sorted(per_robot.values(), key=lambda n: (n.deadline, -n.risk, n.robot_id)):
        latest_start = n.deadline - lead - dur
        first = max(now, n.earliest)
        first = math.ceil(first / step) * step  # on the slot grid
        if latest_start < max(now, n.earliest):
            why = (f"its predicted limit at {n.deadline:.0f} leaves less than the lead time ({policy.lead_time_h:g} h)"
                   f" plus the service duration ({policy.duration_h:g} h) after "
                   + ("now" if now >= n.earliest else "the twin's earliest window"))
            out.infeasible.append(Unplaced(n.robot_id, n.component, n.mode, n.deadline, why))
            continue
        last = min(latest_start, now + policy.horizon_h * HOUR)
        slots = [first + i * step for i in range(int((last - first) // step) + 1)]
        if not slots or slots[0] > latest_start:  # the grid skipped past a narrow range: use its exact start
            slots = [max(now, n.earliest)]
        free = [s for s in slots if peak_out(out.windows, s, s + dur) < policy.max_out]
        if not free:
            out.infeasible.append(Unplaced(n.robot_id, n.component, n.mode, n.deadline,
                                           f"{policy.max_out} robot(s) of the site are already out in every slot "
                                           "before its latest start (earlier deadlines were placed first)"))
            continue
        quiet = [s for s in free if is_off_peak(s, s + dur, policy)]
        start = (quiet or free)[0]
        out.windows.append(Window(n.robot_id, n.component, n.mode, start, start + dur, n.deadline, bool(quiet)))
    return out
