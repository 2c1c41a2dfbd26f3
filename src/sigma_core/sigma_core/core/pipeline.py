"""One tick of onboard cognition: perception → reasoning → self-evaluation → arbitration → planning/execution →
action synthesis. Pure: the node feeds inputs into ``perception`` and calls ``tick(now)`` from one timer.

Action synthesis writes only the commander's own channel (``cmd/primary_ai/*`` or ``cmd/edge_ai/*``), never
``driver/*`` (the safety gate's). In mechanical fallback it holds (zero base velocity) on the channel safety still
allows, or publishes nothing when safety itself is in fallback (the gate holds and brakes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sigma_core.core.arbiter import NAMES, Arbiter, ArbiterParams, Decision, Mode, Switch, Verdict
from sigma_core.core.behaviours import Command, ExecContext, ExecutionParams
from sigma_core.core.executor import TaskExecutor
from sigma_core.core.forecast import ForecastParams, Judgement, TaskLoad, estimate, window_conflict, worth_asking
from sigma_core.core.make_way import MakeWay
from sigma_core.core.perception import Perception, WorldState
from sigma_core.core.planner import components, neighbour_table
from sigma_core.core.reasoning import Constraints, ReasoningParams, constrain
from sigma_core.core.selfeval import Assessment, SelfEvalParams, SelfEvaluation
from sigma_core.core.sitemap import SiteMap
from sigma_core.core.tasks import State, StatusReport, TaskError, TaskSpec, task_from_decision
from sigma_core.core.tracker import TrackerParams
from sigma_core.core.traffic import TrafficParams

CHANNELS = {Mode.PRIMARY: "primary_ai", Mode.EDGE: "edge_ai"}


@dataclass(frozen=True)
class CoreConfig:
    """All parameter groups of the pipeline."""

    tracker: TrackerParams = field(default_factory=TrackerParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)
    reasoning: ReasoningParams = field(default_factory=ReasoningParams)
    selfeval: SelfEvalParams = field(default_factory=SelfEvalParams)
    arbiter: ArbiterParams = field(default_factory=ArbiterParams)
    traffic: TrafficParams = field(default_factory=TrafficParams)
    forecast: ForecastParams = field(default_factory=ForecastParams)


@dataclass(frozen=True)
class TickOutput:
    """What the node publishes after one tick."""

    now: float
    commander: Mode
    channel: str | None                    # "primary_ai", "edge_ai" or None (publish nothing)
    command: Command | None
    halted: Mode | None                    # commander halted on this tick, before ``commander`` started
    switch: Switch | None
    statuses: tuple[StatusReport, ...]
    edge_health: Assessment
    primary_confidence: float | None       # relayed as policy_health(SOURCE_PRIMARY_AI) while a lease is live
    payload_request: float | None
    route: tuple[tuple[float, float], ...]  # this robot's position, then the path it will drive (empty: no pose yet)
    nearest_robot: float                    # [m] centre distance to the nearest live peer now (inf: none)
    traffic_note: str                       # why the robot holds for traffic ("" = it does not)


class Pipeline:
    """The Edge AI pipeline and the arbiter for one robot."""

    def __init__(self, site: SiteMap, config: CoreConfig | None = None, robot_id: str = "") -> None:
        self.config = config or CoreConfig()
        self.perception = Perception()
        self.ctx = ExecContext(site, self.config.tracker, self.config.execution, traffic=self.config.traffic,
                               robot_id=robot_id)
        self.min_robot_distance = math.inf      # [m] smallest centre distance to another robot seen so far
        components(site), neighbour_table(site)  # once, at start: never in a tick or a task's acceptance
        self.executor = TaskExecutor(self.ctx)
        self.make_way = MakeWay(self.ctx)       # an idle robot steps out of a working robot's way
        self.arbiter = Arbiter(self.config.arbiter)
        self.selfeval = SelfEvaluation(self.config.selfeval)
        self.primary_speed_limit = math.inf
        self.primary_task: str = ""
        self._pending: list[StatusReport] = []
        self._last_rejected_at: float | None = None
        self._n_rejected = 0

    # -- inputs that are not sensor data ------------------------------------------------------------
    def refresh(self, now: float) -> tuple[WorldState, Constraints]:
        """Update world state and constraints (perception and reasoning stages); also before acceptance checks."""
        world = self.perception.snapshot(now)
        constraints = constrain(self.config.reasoning, world, self.config.tracker.max_speed)
        self.ctx.now, self.ctx.world, self.ctx.constraints = now, world, constraints
        return world, constraints

    def submit_task(self, spec: TaskSpec, now: float, twin: Judgement | None = None) -> list[StatusReport]:
        """A task from ``tasks/request``: accepted or refused at once (reports returned and published). ``twin``:
        the twin's forecast judgement when the node asked for one (see ``task_load``)."""
        world, _ = self.refresh(now)
        self.executor.commander = int(self.arbiter.mode)
        load = self.task_load(spec)
        window = window_conflict(load, world.twin_window_start, now, self.config.forecast) if load else ""
        if window and spec.task_id not in self.executor.known:
            twin = Judgement(refuse=window)
        return self.executor.submit(spec, now, twin)

    def task_load(self, spec: TaskSpec) -> TaskLoad | None:
        """The workload of ``spec`` for the twin (None: places unknown, the executor refuses it anyway)."""
        pose = self.perception.pose
        try:
            places = [self.ctx.site.resolve(t) for t in (spec.pickup, spec.dropoff, spec.place) if t]
        except ValueError:
            return None
        route = ([pose[:2]] if pose is not None else []) + [(p.x, p.y) for p in places]
        return estimate(spec, route, self.perception.currents, self.config.forecast)

    def wants_forecast(self, spec: TaskSpec) -> TaskLoad | None:
        """The load to ask the twin about when ``spec`` is long or heavy (and new), else None."""
        if spec.task_id in self.executor.known:
            return None
        load = self.task_load(spec)
        return load if load is not None and worth_asking(spec, load, self.config.forecast) else None

    def offer_decision(self, decision: Decision, action: str, parameters: dict[str, str],
                       now: float) -> tuple[Verdict, list[StatusReport]]:
        """A Primary AI decision: screened by the arbiter, then its task submitted (or its lease renewed).

        A decision naming a task that already ended on this robot (done, failed, cancelled, preempted, refused) is
        refused with the reason and never becomes the lease: the cloud may still see that task running (its
        reports lag), and re-running or "renewing" a finished task is never what it meant."""
        if decision.decision_id in self.arbiter.seen:
            return self.arbiter.screen(decision, now), []   # a duplicate: screening says so and changes nothing
        try:
            spec = task_from_decision(action, parameters, f"primary_ai:{decision.decision_id}", 0.0)
        except TaskError as exc:
            self.arbiter.note(decision.decision_id, now)   # a repeat is a duplicate, not re-parsed; no lease
            return Verdict(False, f"decision {decision.decision_id}: {exc}"), []
        ended = self.executor.ended(spec.task_id)
        if ended is not None:
            self.arbiter.note(decision.decision_id, now)
            why = f": {ended.reason}" if ended.reason else ""
            return Verdict(False, f"decision {decision.decision_id} ({action}) refused: task {spec.task_id} already "
                                  f"ended on this robot ({ended.state.name.lower()}{why})"), []
        verdict = self.arbiter.screen(decision, now)
        if not verdict.applied:
            return verdict, []
        running = self.executor.spec
        if running is not None and running.task_id == spec.task_id:
            self.primary_speed_limit = spec.speed_limit
            return Verdict(True, f"lease renewed for task {spec.task_id}"), []
        reports = self.submit_task(spec, now)
        if reports and reports[-1].state == State.REFUSED:
            self.arbiter.lease = None
            return Verdict(False, f"decision {decision.decision_id}: task refused: {reports[-1].reason}"), reports
        self.primary_speed_limit, self.primary_task = spec.speed_limit, spec.task_id
        return verdict, reports

    def confirm_payload(self, mass: float) -> None:
        """The hands (or the simulator) confirmed holding ``mass`` [kg]."""
        self.ctx.payload_held = mass
        if self.ctx.payload_request is not None and abs(self.ctx.payload_request - mass) < 1e-9:
            self.ctx.payload_request = None

    # -- the tick -----------------------------------------------------------------------------------
    def tick(self, now: float) -> TickOutput:
        ctx, cfg = self.ctx, self.config
        world, constraints = self.refresh(now)
        if len(world.rejected) != self._n_rejected:
            self._n_rejected, self._last_rejected_at = len(world.rejected), now
        health = self.selfeval.assess(world, cross_track=ctx.cross_track, remaining=ctx.remaining,
                                      moving_expected=ctx.moving_expected, needs_joints=ctx.needs_joints,
                                      last_rejected_at=self._last_rejected_at, fleet_fault=constraints.fleet_fault)
        allowed = world.safety.authority if world.safety is not None else None
        switch = self.arbiter.step(now, allowed, world.safety_age, health.confidence, "; ".join(health.reasons))
        halted = None
        if switch is not None:
            self.executor.halt()               # the old commander stops before the new one starts
            self.make_way.stop()
            halted = switch.previous
        mode = self.arbiter.mode
        ctx.command, ctx.route, ctx.traffic_note, ctx.wait_note = Command(), None, "", ""
        # Only a Navigate that tracks its path on this tick sets a cross-track error. Kept from an earlier tick, the
        # error of a robot shoved off its path (0.8 m: confidence 0.44 < 0.5) outlived the fallback it caused: the
        # halted executor never tracked again, the confidence stayed below the arbiter's threshold, and the task stood
        # ACTIVE for good (the main command's r3 "at navigate:pickup (3 %)" for 200+ s; test_stages.py).
        ctx.cross_track = math.nan
        statuses = list(self._pending)
        self._pending.clear()
        channel: str | None
        command: Command | None
        if mode in CHANNELS:
            limit = constraints.speed_limit
            if mode == Mode.PRIMARY and self.executor.spec is not None and \
                    self.executor.spec.task_id == self.primary_task:
                limit = min(limit, self.primary_speed_limit)
            ctx.speed_limit = limit
            statuses += self.executor.tick(now, int(mode))
            if self.executor.spec is None:
                self.make_way.tick(now)
            else:
                self.make_way.stop()
            channel, command = CHANNELS[mode], ctx.command
        else:
            ctx.speed_limit, ctx.moving_expected = 0.0, False
            self.executor.commander = int(mode)
            statuses += self.executor.held(now, int(mode), f"halted: {NAMES[mode]} commands (edge AI confidence "
                                           f"{health.confidence:.2f}: {'; '.join(health.reasons)})")
            channel = CHANNELS.get(Mode(allowed)) if allowed in (0, 1) and \
                world.safety_age <= cfg.arbiter.safety_max_age else None
            command = Command() if channel else None
        lease = self.arbiter.lease
        primary = lease.confidence if lease is not None and now < lease.deadline else None
        route = ctx.route if ctx.route is not None and mode in CHANNELS else (
            (world.pose[:2],) if world.pose is not None else ())
        nearest = self._nearest_robot(world)
        return TickOutput(now, mode, channel, command, halted, switch, tuple(statuses), health, primary,
                          ctx.payload_request, route, nearest, ctx.traffic_note)

    def _nearest_robot(self, world: WorldState) -> float:
        """Centre distance to the nearest live peer (and the running minimum, for the fleet's separation figure)."""
        if world.pose is None:
            return math.inf
        live = [p.position for p in world.peers if world.now - p.received <= self.config.traffic.peer_max_age]
        nearest = min((math.dist(world.pose[:2], q) for q in live), default=math.inf)
        self.min_robot_distance = min(self.min_robot_distance, nearest)
        return nearest

    def mode_fractions(self) -> dict[str, float]:
        return self.arbiter.mode_fractions()


__all__ = ["NAMES", "CoreConfig", "Pipeline", "TickOutput"]
