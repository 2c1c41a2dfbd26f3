"""The Primary AI's decision rules (pure: no I/O, no clock; every input, `now` included, is passed in).

Each rule reads a robot's snapshot (its new scored telemetry summarised as a Window, new safety events, latest
actuator temperatures, battery, position, the tasks it holds, and how similar past incidents ended) plus its session
memory, and returns Proposals: an action with a confidence, an explanation in words and the evidence it came from.
Actions are the task kinds the robots' arbiters accept on `cognition/decisions` (docs/contracts.md: go_to, deliver,
dock, hold, cancel, + speed_limit), or `requeue_tasks` (a fleet action: the robot's tasks go back to the queue).

Self-evaluation: a rule's base confidence (how strong its evidence is) is multiplied by factors that each name their
reason: stale evidence, and similar past incidents that turned out to be false alarms. The arbiter on the robot
(sigma_core) ignores decisions below its `primary_min_confidence` and falls back to its Edge AI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sigma_cloud.cognition.memory import SessionMemory, Window

HOLD = "persistent_anomaly_hold"
MAINTENANCE = "predicted_limit_maintenance"
REASSIGN = "degraded_robot_reassign"
HUMAN_ZONE = "human_cluster_slow"
# memory.fired key: start of the anomaly episode a hold was sent for. The episode lasts while any channel streak stays
# open, so a hold whose oldest streak ends while another continues is renewed under the same task id (one hold, one
# incident), and it ends when no streak is open.
HOLD_STREAK = "persistent_anomaly_hold.streak"
TASK_ACTIONS = {"deliver": "deliver", "go_to": "go_to", "charge": "dock"}  # cloud task kind -> downlink action


@dataclass(frozen=True)
class CognitionParams:
    """Thresholds of the rules (defaults documented in docs/cognition.md)."""

    anomaly_threshold: float = 6.0  # |z| at or above which an event counts as anomalous
    high_share: float = 0.2         # a window is anomalous when a channel has at least this share of such events
    persist_s: float = 2.0          # an anomaly must persist this long (event time) before the robot is held
    streak_gap_s: float = 1.5       # a channel's streak survives passes without its events this long (1-2 Hz ones)
    hold_s: float = 30.0            # hold duration asked of the robot
    decision_ttl_s: float = 10.0    # lease of each decision (sigma_core refuses deadlines > 60 s ahead)
    renew_s: float = 5.0            # a lasting condition renews its decision this often
    cooldown_s: float = 60.0        # a rule acts on a robot at most once per cool-down for a new condition
    temp_limit: float = 80.0        # actuator temperature limit [degC] (sigma_safety's motor limit)
    temp_horizon_s: float = 300.0   # send to maintenance when the limit is predicted within this horizon
    min_temp_samples: int = 4       # temperature samples before a trend is trusted
    temp_watch: float = 50.0        # [degC] the trend is extrapolated only once the hottest actuator is this warm
    #                                 (a healthy motor warming from 25 degC as it starts work extrapolates to the
    #                                 limit within the horizon: a false "maintenance" in the demo's replay)
    battery_low: float = 0.12       # battery share below which the robot is sent to a dock
    stale_s: float = 5.0            # evidence older than this lowers the confidence
    human_radius: float = 3.0       # [m] person-related safety events within this radius form one zone
    human_min_events: int = 3       # events in a zone before robots are slowed around it
    human_window_s: float = 60.0    # only events this recent count
    slow_speed: float = 0.3         # [m/s] speed limit inside a human zone
    zone_margin: float = 2.0        # [m] robots this far outside a zone's radius are slowed too
    similar_distance: float = 0.15  # cosine distance under which a past incident counts as "seen before"
    twin_rul_h: float = 2.0         # the twin's pessimistic remaining life (q05) [h] at or below which -> maintenance
    twin_risk: float = 0.5          # ... or its failure risk within its horizon at or above which -> maintenance
    twin_min_confidence: float = 0.5  # twin forecasts less confident than this are not acted on
    twin_stale_s: float = 900.0     # a twin report older than this is not acted on (the twin reports every few min)
    keep_away_s: float = 300.0      # a task taken back from a degraded robot is refused to that robot's reports of
    #                                 its old assignment this long (as sigma_tasks BoardParams.keep_away_s, the
    #                                 leader's keep-away of the same task: migration 0017)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.streak_gap_s) and self.streak_gap_s >= 0):
            raise ValueError(f"cognition parameter streak_gap_s must be >= 0, got {self.streak_gap_s!r}")
        for name in ("anomaly_threshold", "persist_s", "hold_s", "decision_ttl_s", "renew_s", "temp_limit",
                     "temp_horizon_s", "stale_s", "human_radius", "human_window_s", "slow_speed", "keep_away_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"cognition parameter {name} must be a positive finite number, got {value!r}")
        for name in ("twin_risk", "twin_min_confidence"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"cognition parameter {name} must be in [0, 1], got {getattr(self, name)!r}")
        if not (math.isfinite(self.twin_rul_h) and self.twin_rul_h >= 0 and self.twin_stale_s > 0):
            raise ValueError("cognition parameters twin_rul_h must be >= 0 and twin_stale_s > 0")
        if not 0 < self.high_share <= 1:
            raise ValueError(f"cognition parameter high_share must be in (0, 1], got {self.high_share!r}")
        if self.decision_ttl_s > 60:
            raise ValueError("cognition parameter decision_ttl_s must be <= 60 s (the arbiter's decision horizon)")


@dataclass(frozen=True)
class SafetyEvent:
    """A safety event as the rules need it: when, its level, cause and the rules of the faults it raised."""

    seq: int
    ts: float
    level: int
    cause: str
    raised: tuple[str, ...] = ()

    @property
    def human_related(self) -> bool:
        """True when a person caused it (the safety supervisor's human proximity rule, or the cause says so)."""
        text = " ".join((self.cause, *self.raised)).lower()
        return any(word in text for word in ("human", "person", "people"))


@dataclass(frozen=True)
class TwinComponent:
    """One component of the digital twin's health report (sigma_twin `twin/health`, channel twin_health)."""

    name: str
    health: float
    risk: float
    confidence: float
    rul_q05_h: float  # pessimistic remaining useful life [h]; < 0 unknown (not enough history)
    rul_q50_h: float
    dominant_mode: str = ""


@dataclass(frozen=True)
class TwinReport:
    """The robot's latest twin health report: when, its components, sensors the twin found inconsistent."""

    ts: float
    components: tuple[TwinComponent, ...]
    spoofed_sensors: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeldTask:
    """A fleet task a robot holds (assigned or in progress)."""

    task_id: str
    kind: str
    state: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """Everything the rules read about one robot at `now`."""

    robot_id: str
    site_id: str
    now: float
    window: Window | None = None
    last_event_ts: float | None = None
    safety_events: tuple[SafetyEvent, ...] = ()
    temperatures: dict[str, float] = field(default_factory=dict)
    temperatures_ts: float | None = None
    battery: float | None = None
    position: tuple[float, float] | None = None
    tasks: tuple[HeldTask, ...] = ()
    similar: tuple[tuple[float, str], ...] = ()  # (cosine distance, outcome) of past incidents like the current one
    twin: TwinReport | None = None  # the digital twin's latest health report


@dataclass(frozen=True)
class Proposal:
    """One act of the Primary AI with its confidence, explanation and evidence."""

    robot_id: str
    rule: str
    action: str
    parameters: dict[str, str]
    confidence: float
    ttl_s: float
    explanation: str
    evidence: dict[str, Any]
    renewal: bool = False


def window_anomalous(window: Window | None, params: CognitionParams) -> bool:
    """A window is anomalous when some channel has at least `high_share` of its events at/above the threshold."""
    return window is not None and any(share >= params.high_share for share in window.high_share.values())


def self_evaluate(base: float, snapshot: Snapshot, params: CognitionParams) -> tuple[float, list[str]]:
    """Confidence = base x factors, each with its reason (stale evidence; similar past incidents were false alarms)."""
    confidence = base
    reasons = [f"evidence strength {base:.2f}"]
    if snapshot.last_event_ts is not None:
        age = snapshot.now - snapshot.last_event_ts
        if age > params.stale_s:
            factor = max(0.3, params.stale_s / age)
            confidence *= factor
            reasons.append(f"newest telemetry is {age:.1f} s old (x{factor:.2f})")
    near = [outcome for distance, outcome in snapshot.similar if distance <= params.similar_distance]
    if near:
        false_alarms = sum(1 for outcome in near if outcome == "false_alarm")
        if false_alarms:
            factor = 1.0 - 0.6 * false_alarms / len(near)
            confidence *= factor
            reasons.append(f"{false_alarms} of {len(near)} similar past incidents were false alarms (x{factor:.2f})")
        else:
            reasons.append(f"{len(near)} similar past incident(s), none a false alarm")
    if snapshot.twin is not None and snapshot.twin.spoofed_sensors:
        confidence *= 0.7
        reasons.append(f"the twin finds sensor(s) {', '.join(snapshot.twin.spoofed_sensors[:4])} inconsistent "
                       "(x0.70)")
    return max(0.0, min(1.0, confidence)), reasons


def twin_limit(twin: TwinReport | None, now: float, params: CognitionParams
               ) -> tuple[str, float, dict[str, Any]] | None:
    """The twin's forecast as a maintenance reason: the most urgent confident component whose pessimistic remaining
    life is within `twin_rul_h` or whose risk reaches `twin_risk`; (reason, strength, evidence) or None."""
    if twin is None or now - twin.ts > params.twin_stale_s:
        return None
    urgent = [c for c in twin.components if c.confidence >= params.twin_min_confidence
              and ((0 <= c.rul_q05_h <= params.twin_rul_h) or c.risk >= params.twin_risk)]
    if not urgent:
        return None
    c = min(urgent, key=lambda c: (c.rul_q05_h if c.rul_q05_h >= 0 else math.inf, -c.risk))
    life = f"remaining life q05 {c.rul_q05_h:.2f} h (q50 {c.rul_q50_h:.2f} h)" if c.rul_q05_h >= 0 else \
        "remaining life unknown"
    reason = (f"digital twin: {c.name} health {c.health:.2f}, {life}, failure risk {c.risk:.2f} "
              f"(confidence {c.confidence:.2f}{', mode ' + c.dominant_mode if c.dominant_mode else ''}; "
              f"act at q05 <= {params.twin_rul_h:g} h or risk >= {params.twin_risk:g})")
    strength = 0.6 + 0.3 * c.confidence + (0.1 if c.risk >= params.twin_risk else 0.0)
    evidence = {"twin_component": c.name, "health": c.health, "risk": c.risk, "confidence": c.confidence,
                "rul_q05_h": c.rul_q05_h, "rul_q50_h": c.rul_q50_h, "twin_report_age_s": round(now - twin.ts, 1)}
    return reason, min(1.0, strength), evidence


def hold_episode(memory: SessionMemory) -> float | None:
    """Start of the anomaly episode this robot is held for (a hold was sent and some channel streak has stayed open
    ever since), or None."""
    return memory.fired.get(HOLD_STREAK) if memory.anomaly_since is not None else None


def _due(memory: SessionMemory, rule: str, now: float, interval: float) -> bool:
    last = memory.fired.get(rule)
    return last is None or now - last >= interval


def persistent_anomaly(snapshot: Snapshot, memory: SessionMemory, params: CognitionParams) -> Proposal | None:
    """Hold a robot whose anomaly score stayed high on some channel for `persist_s` of event time (the channel's
    streak: memory.streaks); renew while it lasts."""
    window = snapshot.window
    if memory.anomaly_since is None or window is None or not memory.streaks:
        return None
    # measured on the evidence: from a channel's first anomalous event to its latest one (a short spike inside two
    # long passes is not stretched to the passes' span)
    lasted_by = {c: s[1] - s[0] for c, s in memory.streaks.items()}
    channels = sorted((c for c, d in lasted_by.items() if d >= params.persist_s),
                      key=lambda c: -memory.streaks[c][2])
    if not channels:
        return None
    lasted = max(lasted_by[c] for c in channels)
    # the same episode (streaks open ever since the hold): renew the lease every renew_s under the hold's task id,
    # even when the streak it was sent for ended and a later one continues; a new episode acts at once (persist_s
    # already debounces it)
    episode = hold_episode(memory)
    renewal = episode is not None
    since = episode if episode is not None else memory.anomaly_since
    if renewal and not _due(memory, HOLD, snapshot.now, params.renew_s):
        return None
    peak = max(memory.streaks[c][2] for c in channels)
    strength = 0.6 + 0.2 * min(1.0, math.log2(max(peak, params.anomaly_threshold) / params.anomaly_threshold)) \
        + 0.2 * min(1.0, lasted / (3 * params.persist_s))
    confidence, reasons = self_evaluate(strength, snapshot, params)
    task_id = f"cognition-hold-{int(since * 1000)}"
    explanation = (f"anomaly score on {', '.join(channels)} stayed >= {params.anomaly_threshold:g} for "
                   f"{lasted:.1f} s (peak {peak:.1f}; required {params.persist_s:g} s): hold the robot for "
                   f"{params.hold_s:g} s. Confidence {confidence:.2f}: {'; '.join(reasons)}.")
    evidence = {"channels": channels, "peak_score": round(peak, 3), "anomaly_since": since,
                "oldest_open_streak_since": memory.anomaly_since,
                "lasted_s": round(lasted, 3),
                "high_share": {c: round(window.high_share[c], 3) for c in channels if c in window.high_share},
                "window": window.to_json(), "confidence_reasons": reasons}
    return Proposal(snapshot.robot_id, HOLD, "hold",
                    {"task_id": task_id, "duration": f"{params.hold_s:g}", "priority": "255"},
                    confidence, params.decision_ttl_s, explanation, evidence, renewal=renewal)


def temperature_eta(samples: tuple[tuple[float, float], ...], limit: float) -> tuple[float, float] | None:
    """Least-squares slope [degC/s] of the hottest actuator and the seconds until it reaches `limit` (inf when not
    rising); None with fewer than two distinct times."""
    if len(samples) < 2:
        return None
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    mt, mv = sum(ts) / len(ts), sum(vs) / len(vs)
    den = sum((t - mt) ** 2 for t in ts)
    if den <= 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in samples) / den
    current = vs[-1]
    if current >= limit:
        return slope, 0.0
    return slope, (limit - current) / slope if slope > 1e-9 else math.inf


def predicted_limit(snapshot: Snapshot, memory: SessionMemory, params: CognitionParams) -> Proposal | None:
    """Send a robot to a dock (maintenance) when an actuator is predicted to reach its temperature limit within the
    horizon, the digital twin forecasts a component's end of life or a high failure risk, or its battery is nearly
    empty."""
    if not _due(memory, MAINTENANCE, snapshot.now, params.cooldown_s):
        return None
    evidence: dict[str, Any] = {}
    reason = ""
    strength = 0.0
    trend = temperature_eta(memory.temperatures, params.temp_limit)
    if len(memory.temperatures) >= params.min_temp_samples and trend is not None and snapshot.temperatures \
            and max(snapshot.temperatures.values()) >= params.temp_watch:
        slope, eta = trend
        if eta <= params.temp_horizon_s:
            hottest = max(snapshot.temperatures, key=lambda n: snapshot.temperatures[n])
            reason = (f"actuator {hottest} at {snapshot.temperatures[hottest]:.1f} degC rising {slope * 60:.2f} "
                      f"degC/min: limit {params.temp_limit:g} degC predicted in {eta:.0f} s "
                      f"(horizon {params.temp_horizon_s:g} s)")
            strength = 0.7 + 0.3 * (1.0 - eta / params.temp_horizon_s)
            evidence = {"actuator": hottest, "temperature": snapshot.temperatures[hottest], "slope_per_s": slope,
                        "eta_s": eta, "samples": [list(s) for s in memory.temperatures]}
    twin = twin_limit(snapshot.twin, snapshot.now, params) if not reason else None
    if twin is not None:
        reason, strength, evidence = twin
    if not reason and snapshot.battery is not None and snapshot.battery < params.battery_low:
        reason = f"battery at {snapshot.battery:.0%} (below {params.battery_low:.0%})"
        strength = 0.9
        evidence = {"battery": snapshot.battery}
    if not reason:
        return None
    confidence, reasons = self_evaluate(strength, snapshot, params)
    evidence["confidence_reasons"] = reasons
    explanation = (f"{reason}: send to the nearest dock for maintenance. Confidence {confidence:.2f}: "
                   f"{'; '.join(reasons)}.")
    return Proposal(snapshot.robot_id, MAINTENANCE, "dock",
                    {"task_id": f"cognition-maintenance-{int(snapshot.now * 1000)}", "place": "", "priority": "200"},
                    confidence, params.decision_ttl_s, explanation, evidence)


def reassign(snapshot: Snapshot, acted: list[Proposal]) -> Proposal | None:
    """A robot just held or sent to maintenance gives its fleet tasks back to the queue (the leader re-allocates)."""
    degrading = [p for p in acted if p.rule in (HOLD, MAINTENANCE) and not p.renewal]
    if not degrading or not snapshot.tasks:
        return None
    ids = [t.task_id for t in snapshot.tasks]
    why = "; ".join(f"{p.rule}" for p in degrading)
    return Proposal(snapshot.robot_id, REASSIGN, "requeue_tasks", {"task_ids": ",".join(ids)},
                    min(p.confidence for p in degrading), 0.0,
                    f"robot degraded ({why}): its {len(ids)} task(s) {', '.join(ids)} go back to the queue for "
                    "another robot.", {"tasks": ids, "because": [p.rule for p in degrading]})


def decide(snapshot: Snapshot, memory: SessionMemory, params: CognitionParams) -> tuple[list[Proposal], SessionMemory]:
    """All robot-level rules for one pass: returns the proposals and the memory after them."""
    hottest = max(snapshot.temperatures.values()) if snapshot.temperatures else None
    temp = (snapshot.temperatures_ts, hottest) if hottest is not None and snapshot.temperatures_ts else None
    humans = tuple((e.ts, *snapshot.position) for e in snapshot.safety_events
                   if e.human_related and snapshot.position is not None)
    before = memory.streaks
    memory = memory.remember(snapshot.window, anomalous=window_anomalous(snapshot.window, params),
                             temperature=temp, human_events=humans, high_share=params.high_share,
                             gap_s=params.streak_gap_s)
    continued = any(before.get(c, (None,))[0] == s[0] for c, s in memory.streaks.items())
    if HOLD_STREAK in memory.fired and not continued:
        # no streak open since the hold (none open now, or only ones begun in this pass: e.g. after a gap in the
        # data the worker did not see): the held episode is over, a new one is held after persist_s on its own
        memory = memory.forget(HOLD_STREAK)
    acted = [p for p in (persistent_anomaly(snapshot, memory, params), predicted_limit(snapshot, memory, params))
             if p is not None]
    follow = reassign(snapshot, acted)
    if follow is not None:
        acted.append(follow)
    for proposal in acted:
        memory = memory.fire(proposal.rule, snapshot.now)
        if proposal.rule == HOLD and not proposal.renewal and memory.anomaly_since is not None:
            memory = memory.fire(HOLD_STREAK, memory.anomaly_since)
    return acted, memory


@dataclass(frozen=True)
class SiteRobot:
    """A robot of a site for the zone rule: where it is and the fleet task it runs (if any)."""

    robot_id: str
    position: tuple[float, float] | None
    running: HeldTask | None
    human_events: tuple[tuple[float, float, float], ...] = ()


def human_zones(events: list[tuple[float, float, float]], params: CognitionParams, now: float
                ) -> list[tuple[float, float, int]]:
    """Zones (x, y, events) where at least `human_min_events` recent person-related events lie within
    `human_radius` of each other (greedy: densest seed first; each event counts in one zone)."""
    recent = sorted({e for e in events if now - e[0] <= params.human_window_s})
    zones: list[tuple[float, float, int]] = []
    left = list(recent)
    while left:
        def members(seed: tuple[float, float, float], pool: list[tuple[float, float, float]]
                    ) -> list[tuple[float, float, float]]:
            return [e for e in pool if math.hypot(e[1] - seed[1], e[2] - seed[2]) <= params.human_radius]
        seed = max(left, key=lambda s: (len(members(s, left)), -s[0]))
        group = members(seed, left)
        if len(group) < params.human_min_events:
            break
        zones.append((sum(e[1] for e in group) / len(group), sum(e[2] for e in group) / len(group), len(group)))
        left = [e for e in left if e not in group]
    return zones


def human_cluster(robots: list[SiteRobot], params: CognitionParams, now: float,
                  fired: dict[str, float]) -> list[Proposal]:
    """Slow every robot running a task in or near a zone where people cluster (speed_limit on its running task's
    lease), at most once per `renew_s` per robot (`fired`: robot -> last time)."""
    events = [e for r in robots for e in r.human_events]
    zones = human_zones(events, params, now)
    out: list[Proposal] = []
    for robot in robots:
        if robot.position is None or robot.running is None or robot.running.kind not in TASK_ACTIONS:
            continue
        if now - fired.get(robot.robot_id, -math.inf) < params.renew_s:
            continue
        for x, y, count in zones:
            distance = math.hypot(robot.position[0] - x, robot.position[1] - y)
            if distance > params.human_radius + params.zone_margin:
                continue
            strength = min(1.0, 0.6 + 0.1 * (count - params.human_min_events + 1))
            task = robot.running
            parameters = {**{k: v for k, v in task.parameters.items()
                             if k in ("task_id", "place", "pickup", "dropoff", "payload_mass", "priority")},
                          "task_id": task.task_id, "speed_limit": f"{params.slow_speed:g}"}
            out.append(Proposal(
                robot.robot_id, HUMAN_ZONE, TASK_ACTIONS[task.kind], parameters, strength, params.decision_ttl_s,
                f"{count} person-related safety events within {params.human_radius:g} m of ({x:.1f}, {y:.1f}) in "
                f"the last {params.human_window_s:g} s; this robot is {distance:.1f} m away running task "
                f"{task.task_id}: slow it to {params.slow_speed:g} m/s. Confidence {strength:.2f}.",
                {"zone": {"x": x, "y": y, "events": count}, "distance_m": distance, "task_id": task.task_id}))
            break
    return out
