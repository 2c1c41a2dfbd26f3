"""Task executor: acceptance (with reasons), one behaviour tree per task, progress and results.

One task runs at a time. ``submit`` answers ACCEPTED or REFUSED at once (a preempted task is reported PREEMPTED
first); ``tick`` runs the tree one step and reports progress and the final state; ``halt`` stops the running
behaviour (the tree keeps its place, so the next commander resumes the task at the same step — a halted
navigation replans from where the robot is).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import replace

import py_trees
from py_trees.common import Status

from sigma_core.core.behaviours import Charge, ExecContext, HoldFor, SetPayload, arm, navigate
from sigma_core.core.forecast import Judgement
from sigma_core.core.planner import NoPathError, reachable
from sigma_core.core.sitemap import PlaceError
from sigma_core.core.tasks import FINAL, Kind, State, StatusReport, TaskError, TaskSpec, fence_key, validate

PROGRESS_PERIOD = 0.5   # [s] ACTIVE reports while running, besides every step change
KNOWN_TASKS = 512       # task ids remembered for duplicate detection
NUMBER = re.compile(r"\d+(?:\.\d+)?")


class TaskExecutor:
    """Runs tasks as py_trees behaviour trees on an :class:`ExecContext`."""

    def __init__(self, ctx: ExecContext) -> None:
        self.ctx = ctx
        self.spec: TaskSpec | None = None
        self.root: py_trees.behaviour.Behaviour | None = None
        self.known: OrderedDict[str, StatusReport] = OrderedDict()
        self._last_report = -math.inf
        self._last_step = ""
        self._last_reason = ""                           # the last ACTIVE reason, numbers left out
        self.commander = 2
        self.newest_term: dict[str, int] = {}           # fencing: newest term seen per issuer family
        self.payload_cap = (math.inf, "")                # the twin's derating: (kg, why)

    # -- acceptance ---------------------------------------------------------------------------------
    def submit(self, spec: TaskSpec, now: float, twin: Judgement | None = None) -> list[StatusReport]:
        """Validate and accept or refuse ``spec``; returns the reports to publish (in order). ``twin``: the twin's
        judgement of this task (None: not asked), a refusal, or a derating of later payloads."""
        if spec.task_id in self.known and spec.kind != Kind.CANCEL:
            again = self._answer_again(spec)             # a retry of a known task: same answer, never run twice
            if again is not None:
                return [again]
            del self.known[spec.task_id]                 # let go, then assigned again by a swarm leader: new work
        stale = self._fence(spec)
        if stale:
            report = self._report(spec, State.REFUSED, reason=stale)
            return [report if spec.kind == Kind.CANCEL else self._remember(report)]
        if spec.kind == Kind.CANCEL:
            return self._cancel(spec)
        try:
            spec = validate(spec)
            self._check(spec, now)
            if twin is not None and twin.refuse:
                raise TaskError(twin.refuse)
            root = self._build(spec)
        except (TaskError, PlaceError, NoPathError) as exc:
            return [self._remember(self._report(spec, State.REFUSED, reason=str(exc)))]
        out = []
        if self.spec is not None:
            out.append(self._finish(State.PREEMPTED, f"preempted by task {spec.task_id} ({spec.kind.name.lower()}, "
                                                      f"priority {spec.priority}) from {spec.issuer or 'unknown'}"))
        self.spec, self.root = spec, root
        self._last_step, self._last_report = "", -math.inf
        if twin is not None and not twin.refuse:
            self.payload_cap = (twin.payload_cap, twin.note) if math.isfinite(twin.payload_cap) else (math.inf, "")
        note = "; ".join(t for t in (self._constraint_text(), twin.note if twin else "") if t)
        out.append(self._remember(self._report(spec, State.ACCEPTED, reason=note)))
        return out

    def _answer_again(self, spec: TaskSpec) -> StatusReport | None:
        """The known answer to a repeated task id, or None to run it again.

        Without a term (an operator's retry) or from an older term: the same answer. A swarm leader's assignment
        (term > 0, not fenced) of a task this robot let go or did not take (cancelled, pre-empted, refused, or
        failed under an older term) is new work: None. (Answering "cancelled" for ever made a task unassignable:
        a CI run's new leader gave it back to r1, then to r2, each answered with its old cancel, and it stayed
        queued.) A newer term's re-assignment of a finished or running task is answered under that term, and a
        running task reports under it from then on: the cloud refuses reports of an older term, so the answer to
        the old leader's assignment (a task done while the leader changed) would never count."""
        known = self.known[spec.task_id]
        if not isinstance(spec.term, int) or spec.term <= 0 or spec.term < known.term or self._fence(spec):
            return known
        let_go = known.state in (State.CANCELED, State.PREEMPTED, State.REFUSED)
        if let_go or (known.state == State.FAILED and spec.term > known.term):
            return None
        if spec.term == known.term:
            return known
        if self.spec is not None and self.spec.task_id == spec.task_id:
            self.spec = replace(self.spec, term=spec.term)
        return self._remember(replace(known, term=spec.term))

    def ended(self, task_id: str) -> StatusReport | None:
        """The final report of ``task_id`` if that task already ended on this robot (succeeded, failed, cancelled,
        preempted or refused) and is not the running one; None for a running, unknown or forgotten id."""
        report = self.known.get(task_id)
        if report is None or report.state not in FINAL or (self.spec is not None and self.spec.task_id == task_id):
            return None
        return report

    def _fence(self, spec: TaskSpec) -> str:
        """Why ``spec`` is fenced off (a term older than the newest seen from its issuer family), or ""."""
        if not isinstance(spec.term, int) or spec.term <= 0:
            return ""                                    # not fenced (term 0); malformed terms fail validation
        key = fence_key(spec.issuer)
        newest = self.newest_term.get(key, 0)
        if spec.term < newest:
            return (f"fenced: term {spec.term} from {spec.issuer or 'unknown'} is older than term {newest} already "
                    f"seen from {key!r} issuers (a deposed leader)")
        self.newest_term[key] = spec.term
        return ""

    def _cancel(self, spec: TaskSpec) -> list[StatusReport]:
        if self.spec is None or self.spec.task_id != spec.task_id:
            if spec.task_id in self.known and self.known[spec.task_id].state in FINAL:
                return [self.known[spec.task_id]]       # already over: its final state is the answer
            running = self.spec.task_id if self.spec else "none"
            return [self._report(spec, State.REFUSED, reason=f"cancel: task {spec.task_id} is not running "
                                                              f"(running: {running})")]
        self.halt()
        return [self._finish(State.CANCELED, f"canceled by {spec.issuer or 'unknown'}")]

    def _check(self, spec: TaskSpec, now: float) -> None:
        ctx, c = self.ctx, self.ctx.constraints
        if spec.deadline and now > spec.deadline:
            raise TaskError(f"deadline passed {now - spec.deadline:.2f} s ago")
        if self.spec is not None and spec.priority < self.spec.priority:
            raise TaskError(f"busy with task {self.spec.task_id} of priority {self.spec.priority} > {spec.priority}")
        if c is not None and c.refuse_new_work and spec.kind in (Kind.GO_TO, Kind.DELIVER):
            raise TaskError(c.refuse_new_work)
        if spec.kind == Kind.DELIVER and spec.payload_mass > self.payload_cap[0]:
            raise TaskError(f"payload {spec.payload_mass:.1f} kg above {self.payload_cap[0]:.1f} kg: "
                            f"{self.payload_cap[1]}")
        if spec.kind == Kind.DELIVER and c is not None and spec.payload_mass > c.payload_limit:
            raise TaskError(f"payload {spec.payload_mass:.1f} kg above the current limit {c.payload_limit:.1f} kg"
                            f" ({'; '.join(c.reasons) or 'nominal'})")
        pose = ctx.fresh_pose()
        for label in ("place", "pickup", "dropoff"):
            text = getattr(spec, label)
            if text:
                place = ctx.site.resolve(text)
                if pose is not None and spec.kind != Kind.HOLD:
                    reachable(ctx.site, pose[:2], (place.x, place.y))   # else NoPathError

    def _build(self, spec: TaskSpec) -> py_trees.behaviour.Behaviour:
        ctx, site = self.ctx, self.ctx.site
        seq = py_trees.composites.Sequence(f"{spec.kind.name.lower()}:{spec.task_id}", memory=True)
        if spec.kind == Kind.GO_TO:
            seq.add_child(navigate("navigate:place", ctx, site.resolve(spec.place)))
        elif spec.kind == Kind.DELIVER:
            seq.add_children([
                navigate("navigate:pickup", ctx, site.resolve(spec.pickup)),
                arm("reach:pickup", ctx, "reach"),
                SetPayload("grasp", ctx, spec.payload_mass),
                arm("lift", ctx, "carry"),
                navigate("navigate:dropoff", ctx, site.resolve(spec.dropoff)),
                arm("reach:dropoff", ctx, "reach"),
                SetPayload("release", ctx, 0.0),
                arm("retract", ctx, "neutral"),
            ])
        elif spec.kind == Kind.DOCK:
            pose = ctx.fresh_pose()
            dock = site.resolve(spec.place) if spec.place else (
                site.nearest_dock(*pose[:2]) if pose else site.resolve("dock_1"))
            seq.add_children([navigate(f"navigate:{dock.name}", ctx, dock), Charge("charge", ctx, spec.charge_to)])
        else:
            seq.add_child(HoldFor("hold", ctx, spec.duration))
        return seq

    # -- running ------------------------------------------------------------------------------------
    def held(self, now: float, commander: int, why: str) -> list[StatusReport]:
        """While the executor stands halted (another commander, or none, has the robot): the running task's ACTIVE
        report at its halted step says why — at once when that changes, else every ``PROGRESS_PERIOD`` (a task that
        stood in the fallback reported nothing: the CI's reason "-")."""
        self.commander = commander
        if self.root is None or self.spec is None:
            return []
        kind = NUMBER.sub("#", why)
        if kind != self._last_reason or now - self._last_report >= PROGRESS_PERIOD:
            self._last_reason, self._last_report = kind, now
            return [self._report(self.spec, State.ACTIVE, reason=why)]
        return []

    def tick(self, now: float, commander: int) -> list[StatusReport]:
        """One step of the running task (the caller set ctx.now/world/constraints/speed_limit and reset command)."""
        self.commander = commander
        if self.root is None or self.spec is None:
            self.ctx.step = "idle"
            return []
        self.root.tick_once()
        status = self.root.status
        if status == Status.SUCCESS:
            return [self._finish(State.SUCCEEDED, "done")]
        if status == Status.FAILURE:
            return [self._finish(State.FAILED, self.ctx.last_failure or "a step failed")]
        reason = self._active_reason()
        kind = NUMBER.sub("#", reason)      # a new situation is reported at once, a new distance with the period
        if self.ctx.step != self._last_step or kind != self._last_reason or now - self._last_report >= PROGRESS_PERIOD:
            self._last_step, self._last_reason, self._last_report = self.ctx.step, kind, now
            return [self._report(self.spec, State.ACTIVE, reason=reason)]
        return []

    def halt(self) -> None:
        """Stop the running behaviour (not the task): the tree resumes at the same step on the next tick."""
        if self.root is not None and self.root.status == Status.RUNNING:
            child = getattr(self.root, "current_child", None)
            if child is not None and child.status == Status.RUNNING:
                child.stop(Status.INVALID)
        self.ctx.moving_expected = False
        self._last_step = ""

    # -- reports ------------------------------------------------------------------------------------
    def _progress(self) -> float:
        if self.root is None:
            return 0.0
        children = self.root.children
        cur = getattr(self.root, "current_child", None)
        if not children or cur is None:
            return 0.0
        k = children.index(cur)
        frac = 0.0
        ctx = self.ctx
        if ctx.step.startswith("navigate") and ctx.path_length > 0 and math.isfinite(ctx.remaining):
            frac = max(0.0, min(1.0, 1.0 - ctx.remaining / ctx.path_length))
        return min(1.0, (k + frac) / len(children))

    def _active_reason(self) -> str:
        """Why a running task is held or slowed, if it is: traffic (robots, people), another wait of the step
        (odometry, path search, safety), then the situation's constraints ("" = nothing holds it)."""
        ctx = self.ctx
        return "; ".join(t for t in (ctx.traffic_note, ctx.wait_note, self._constraint_text()) if t)

    def _constraint_text(self) -> str:
        c = self.ctx.constraints
        return "; ".join(c.reasons) if c is not None else ""

    def _report(self, spec: TaskSpec, state: State, reason: str = "") -> StatusReport:
        ctx, c = self.ctx, self.ctx.constraints
        navigating = state == State.ACTIVE and ctx.step.startswith("navigate")
        return StatusReport(
            task_id=spec.task_id, kind=int(spec.kind), state=state, step=ctx.step if state == State.ACTIVE else "",
            progress=1.0 if state == State.SUCCEEDED else (self._progress() if state == State.ACTIVE else 0.0),
            distance_remaining=ctx.remaining if navigating else math.nan,
            speed_limit=ctx.speed_limit,
            payload_limit=min(c.payload_limit, self.payload_cap[0]) if c else math.nan,
            commander=self.commander, reason=reason,
            term=spec.term if isinstance(spec.term, int) and spec.term > 0 else 0)  # echoed for the cloud's record

    def _finish(self, state: State, reason: str) -> StatusReport:
        assert state in FINAL and self.spec is not None
        report = self._report(self.spec, state, reason)
        if state == State.SUCCEEDED:
            report = StatusReport(**{**report.__dict__, "progress": 1.0})
        self.spec, self.root = None, None
        self.ctx.step, self.ctx.remaining, self.ctx.moving_expected = "idle", math.nan, False
        return self._remember(report)

    def _remember(self, report: StatusReport) -> StatusReport:
        self.known[report.task_id] = report
        self.known.move_to_end(report.task_id)
        while len(self.known) > KNOWN_TASKS:
            self.known.popitem(last=False)
        return report
