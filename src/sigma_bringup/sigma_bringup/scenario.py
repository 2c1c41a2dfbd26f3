"""The demonstration scenario's pure core: what each robot's safety status did, and whether the scenario passed.

No ROS, no clock: samples carry their own times (seconds on the demo's monotonic clock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Fault codes of sigma_safety (docs/safety.md).
SLOW_DOWN = 301
SEPARATION_STOP = 302
THERMAL_DERATING = 201
THERMAL_SHUTDOWN = 202
LEVEL_PROTECTIVE_STOP = 2
AUTHORITY_EDGE_AI = 1
AUTHORITY_MECHANICAL_FALLBACK = 2


STAMP_TRUSTED = 60.0  # [s] a status stamped up to this long ago is timed by its stamp, else by its arrival


def evaluated_at(stamp: float, wall_now: float, mono_now: float) -> float:
    """When a safety status was evaluated, on this process's monotonic clock: its arrival less its age by the stamp
    (robots and demo share the host's wall clock). A stamp that is unset, in the future or older than
    ``STAMP_TRUSTED`` (another clock: simulated time) counts as evaluated on arrival."""
    age = wall_now - stamp
    return mono_now - max(age, 0.0) if stamp > 0.0 and -1.0 <= age <= STAMP_TRUSTED else mono_now


@dataclass(frozen=True)
class StatusSample:
    """One ``safety/status`` message, reduced to what the scenario judges."""

    t: float
    level: int
    authority: int
    speed_scale: float
    brake: bool
    codes: frozenset[int]


@dataclass
class RobotTimeline:
    """Every status sample of one robot, in arrival order, with milestone queries."""

    robot: str
    samples: list[StatusSample] = field(default_factory=list)
    events_seen: int = 0  # safety/events messages received on the robot graph

    def add(self, sample: StatusSample) -> None:
        self.samples.append(sample)

    def latest(self) -> StatusSample | None:
        return self.samples[-1] if self.samples else None

    def first(self, after: float, pred: Callable[[StatusSample], bool]) -> float | None:
        """Time of the first sample at or after ``after`` that satisfies ``pred``."""
        return next((s.t for s in self.samples if s.t >= after and pred(s)), None)

    def unstopped_for(self, now: float) -> float:
        """Seconds (to ``now``) since the latest sample in a protective or emergency stop: 0 while stopped or before
        any sample, infinite if none was."""
        if not self.samples or self.samples[-1].level >= LEVEL_PROTECTIVE_STOP:
            return 0.0
        last = next((s.t for s in reversed(self.samples) if s.level >= LEVEL_PROTECTIVE_STOP), None)
        return now - last if last is not None else float("inf")

    def commandable_at(self, after: float) -> float | None:
        """An AI holds authority and the brakes are released: the robot can do its task."""
        return self.first(after, lambda s: s.authority < AUTHORITY_MECHANICAL_FALLBACK and not s.brake)

    def clear_of_people(self) -> bool:
        """The latest status holds no speed-and-separation code (no person near enough to slow or stop it)."""
        last = self.latest()
        return last is not None and not ({SLOW_DOWN, SEPARATION_STOP} & last.codes)

    def slowed_at(self, after: float) -> float | None:
        return self.first(after, lambda s: SLOW_DOWN in s.codes and s.speed_scale < 1.0)

    def stopped_for_human_at(self, after: float) -> float | None:
        return self.first(after, lambda s: SEPARATION_STOP in s.codes and s.level >= LEVEL_PROTECTIVE_STOP)

    def resumed_at(self, after: float) -> float | None:
        return self.first(
            after, lambda s: not ({SLOW_DOWN, SEPARATION_STOP} & s.codes) and s.level < LEVEL_PROTECTIVE_STOP
        )

    def derated_at(self, after: float) -> float | None:
        return self.first(after, lambda s: THERMAL_DERATING in s.codes and s.speed_scale < 1.0)

    def shut_down_at(self, after: float) -> float | None:
        return self.first(after, lambda s: THERMAL_SHUTDOWN in s.codes)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def ordered(name: str, start: float | None, *steps: tuple[str, float | None]) -> Check:
    """A check that ``steps`` happened, each after the previous one (and after ``start``), with their delays."""
    if start is None:
        return Check(name, False, "not started")
    prev, parts = start, []
    for label, t in steps:
        if t is None:
            return Check(name, False, "; ".join([*parts, f"{label}: never"]))
        if t < prev:
            return Check(name, False, "; ".join([*parts, f"{label}: out of order"]))
        parts.append(f"{label} after {t - start:.2f} s")
        prev = t
    return Check(name, True, "; ".join(parts))


@dataclass(frozen=True)
class CloudCount:
    """Per-robot counts read back from the cloud's database through its API."""

    robot: str
    telemetry_events: int
    safety_events: int


def cloud_checks(timelines: Iterable[RobotTimeline], counts: dict[str, CloudCount]) -> list[Check]:
    """The cloud received telemetry from every robot and exactly the safety events each robot published."""
    checks = []
    for tl in timelines:
        c = counts.get(tl.robot)
        if c is None:
            checks.append(Check(f"cloud has {tl.robot}", False, "no answer from the cloud"))
            continue
        checks.append(
            Check(f"{tl.robot} telemetry in the database", c.telemetry_events > 0, f"{c.telemetry_events} events")
        )
        checks.append(
            Check(
                f"{tl.robot} safety events in the database",
                c.safety_events == tl.events_seen > 0,
                f"{c.safety_events} stored, {tl.events_seen} published on the robot",
            )
        )
    return checks


# m: two robots' envelopes touch below this centre distance (sigma_safety's robot_radius 0.35 m, twice)
ENVELOPES_TOUCH = 0.7
# m: the distance comes from two robots' odometry (sigma_sim: 5 mm white noise per axis, so ~7 mm on a difference):
# three standard deviations of slack, so a robot that holds the separation exactly is not failed by the noise
ODOMETRY_SLACK = 0.02


def separation_check(closest: tuple[float, str, str] | None, separation: float | None, where: str = "") -> Check:
    """The closest approach of two robots' centres during the run against the separation the robots' traffic
    coordination keeps (sigma_core ``traffic.separation``), or, where none is configured, against their envelopes
    touching; ``where``: when and where it happened (for the logs)."""
    name = "robots keep their separation (closest approach)"
    if closest is None:
        return Check(name, False, "no two robots' odometry seen at the same time")
    d, a, b = closest
    need, what = (separation, "traffic.separation") if separation else (ENVELOPES_TOUCH, "envelopes touching")
    return Check(name, d >= need - ODOMETRY_SLACK,
                 f"{a} and {b}: {d:.3f} m (needs ≥ {need:.2f} m, {what}, less {ODOMETRY_SLACK} m odometry noise)"
                 + (f", {where}" if where else ""))


EDGE_AI_AFTER_CLOUD_LOSS = "cloud Primary AI killed mid-run: robots keep working on their Edge AI"


def edge_ai_after_cloud_loss(killed_at: float | None, worker_gone: bool, timelines: Iterable[RobotTimeline],
                             tasks_done: Check | None) -> Check:
    """After the cloud's Primary AI worker was killed (``kill -9`` at ``killed_at``, on the demo's clock), each robot
    in ``timelines`` was commanded by its Edge AI with its brakes released (a status sample with that authority
    after the kill) and the tasks given after the kill ended done (``tasks_done``, the cloud tasks' own check).
    Passes when the tasks are done and at least one robot was under its Edge AI; a robot never seen so is named (an
    idle one may stand braked)."""
    name = EDGE_AI_AFTER_CLOUD_LOSS
    if killed_at is None or not worker_gone:
        return Check(name, False, "the Primary AI worker was not killed" if killed_at is None
                     else "the Primary AI worker still runs after kill -9")
    edge, stuck = [], []
    for tl in timelines:
        t = tl.first(killed_at, lambda s: s.authority == AUTHORITY_EDGE_AI and not s.brake)
        (edge if t is not None else stuck).append(tl.robot if t is None else f"{tl.robot} {t - killed_at:.1f} s")
    done = tasks_done is not None and tasks_done.ok
    detail = f"Edge AI in command after the kill: {', '.join(edge) or 'none'}"
    if stuck:
        detail += f"; not seen under Edge AI with brakes released: {', '.join(stuck)}"
    detail += f"; tasks after the kill: {tasks_done.detail if tasks_done is not None else 'none run'}"
    return Check(name, bool(edge) and done, detail)


def render(checks: list[Check]) -> str:
    """A plain-text summary table, one check per line."""
    width = max((len(c.name) for c in checks), default=10)
    lines = [f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in checks]
    passed = sum(c.ok for c in checks)
    lines.append(f"scenario: {passed} passed, {len(checks) - passed} failed")
    return "\n".join(lines)
