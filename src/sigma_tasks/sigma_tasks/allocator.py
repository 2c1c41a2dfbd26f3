"""The leader's task board: tasks of one site, allocation rounds, leases, fencing and robots' reports.

Pure and deterministic (time passed in). The swarm leader runs one; the cloud keeps the durable record of the same
TaskRecords. Rules that keep tasks from being lost or executed twice:

- every assignment carries the leader's term; a board refuses work from an older term, and robots refuse
  assignments older than the newest term they have seen (`fence.AssignmentFence`);
- an assignment is a lease: the robot abandons a task whose lease was not renewed by `lease_until`; the leader
  re-queues it only after `lease_until + skew_s` (so the robot has stopped first), or at once when the robot itself
  reports it failed, protective-stopped or not holding the task;
- a new leader resumes from the cloud's record plus the robots' reports, and holds back every task no robot
  vouched for until any lease an older leader may have granted has run out (`resume`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from sigma_tasks import solver
from sigma_tasks.cost import (
    Bids,
    CostParams,
    Infeasible,
    PairDistance,
    RobotArrays,
    RobotState,
    TaskArrays,
    bid,
    euclidean_pairs,
)
from sigma_tasks.cost import summarize_reasons as _summarize
from sigma_tasks.model import SiteMap, TaskKind, TaskSpec
from sigma_tasks.states import TaskRecord, TaskState, transition

REASON_NEIGHBOURS = 32  # in the cells solver, why a task stayed queued is read from its nearest robots' bids


class StaleTermError(RuntimeError):
    """Work attempted under a leader term older than one already seen."""


@dataclass(frozen=True)
class Assignment:
    """A task handed to a robot under the leader's term; valid until `lease_until` unless renewed."""

    task_id: str
    robot_id: str
    term: int
    leader: str
    cost_s: float
    finish_at: float
    lease_until: float
    charge_first: bool = False


@dataclass(frozen=True)
class RobotReport:
    """What a robot says about itself: the task it holds (with that assignment's term) and tasks it finished."""

    robot_id: str
    holding: str | None = None
    holding_term: int | None = None
    started: bool = False
    queued: tuple[str, ...] = ()  # further tasks it holds, in order (their leases are renewed too)
    done: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (task_id, reason)
    snapshot: bool = True  # lists everything the robot holds (False: one task's event, e.g. a TaskStatus)


@dataclass(frozen=True)
class BoardParams:
    lease_s: float = 10.0  # an assignment's lease; renewed while the robot and leader hear each other
    skew_s: float = 1.0  # clock-skew margin between robot and leader
    retry_s: float = 5.0  # an infeasible task is retried after this
    max_queue: int = 2  # tasks a robot may hold (including the one it executes)
    max_rounds: int = 2  # allocation rounds per call (each gives a robot at most one more task)
    keep_away_s: float = 300.0  # a task taken away from a degraded robot is not given back to it for this long
    dense_limit: int = solver.DENSE_LIMIT  # tasks x robots solved densely and exactly
    sparse_limit: int = solver.SPARSE_LIMIT  # ... on the k-nearest candidate graph in one piece; beyond: cells


@dataclass
class AllocationResult:
    assignments: list[Assignment] = field(default_factory=list)
    infeasible: dict[str, str] = field(default_factory=dict)
    solver: str = "none"


class TaskBoard:
    """Tasks of one site as the current leader sees them."""

    def __init__(
        self,
        site: SiteMap,
        *,
        leader: str,
        term: int,
        params: CostParams | None = None,
        board: BoardParams | None = None,
        dist: PairDistance = euclidean_pairs,
    ) -> None:
        self.site = site
        self.leader = leader
        self.term = term
        self.params = params or CostParams()
        self.board = board or BoardParams()
        self.dist = dist
        self.records: dict[str, TaskRecord] = {}
        self.lease_until: dict[str, float] = {}
        self.hold_until: dict[str, float] = {}
        self.resume_hold = -np.inf  # a resumed board holds every task it learns of before this time
        self.kept_away: dict[str, dict[str, float]] = {}  # task -> {robot it was taken from: until}
        self._docks = [d.point for d in site.docks()]

    # ---- tasks in -------------------------------------------------------------------------------------------------
    def add(self, spec: TaskSpec, *, at: float, actor: str) -> TaskRecord:
        """Add a task (idempotent for an identical spec); raise TaskError for a bad one."""
        existing = self.records.get(spec.task_id)
        if existing is not None:
            if existing.spec != spec:
                raise ValueError(f"task {spec.task_id} exists with a different spec")
            return existing
        spec.validate(self.site)
        record = TaskRecord.create(spec, at=at, actor=actor)
        self.records[spec.task_id] = record
        if at < self.resume_hold:  # an older leader may have handed it out before this board knew of it
            self.hold_until[spec.task_id] = self.resume_hold
        return record

    def cancel(self, task_id: str, *, at: float, actor: str, reason: str) -> TaskRecord:
        return self._move(task_id, TaskState.CANCELLED, at=at, actor=actor, reason=reason)

    def keep_away(self, task_id: str, robot_id: str, *, at: float, actor: str, reason: str) -> bool:
        """Take a task away from a (degraded) robot: re-queued if that robot holds it, and for `keep_away_s` neither
        allocated to it again nor re-assigned to it by its own stale report of holding it (the robot may not have
        dropped it yet). Returns whether the robot held it."""
        rec = self.records[task_id]
        if rec.state.terminal:
            return False
        self.kept_away.setdefault(task_id, {})[robot_id] = at + self.board.keep_away_s
        if rec.robot_id != robot_id:
            return False
        self._requeue(task_id, at=at, actor=actor, reason=reason)
        return True

    def is_kept_away(self, task_id: str, robot_id: str, now: float) -> bool:
        """Whether `robot_id` may not hold `task_id` now (see `keep_away`)."""
        return self.kept_away.get(task_id, {}).get(robot_id, -np.inf) > now

    # ---- allocation -----------------------------------------------------------------------------------------------
    def allocate(self, robots: Sequence[RobotState], *, now: float, term: int) -> AllocationResult:
        """Assign queued tasks to robots (optimal per round); infeasible tasks get a reason and a retry time."""
        self._check_term(term)
        result = AllocationResult()
        states = {r.robot_id: r for r in robots}
        self.kept_away = {tid: left for tid, robots_until in self.kept_away.items()
                          if (left := {r: u for r, u in robots_until.items() if u > now})}
        for _ in range(self.board.max_rounds):
            pending = [
                rec for rec in self.records.values()
                if rec.state is TaskState.QUEUED
                and (rec.retry_at is None or rec.retry_at <= now)
                and self.hold_until.get(rec.spec.task_id, -np.inf) <= now
            ]
            ids = sorted(states)
            if not pending or not ids:
                break
            fleet = [states[r] for r in ids]
            full = self.board.max_queue
            fleet = [replace(r, available=False) if r.available and r.queue_len >= full else r for r in fleet]
            assign, why_unassigned, winners, used = self._round(pending, fleet, now)
            won, chosen = winners.bids, winners.index
            result.solver = used
            placed = 0
            for j, rec in enumerate(pending):
                tid = rec.spec.task_id
                if assign[j] < 0:
                    reason = why_unassigned(j)
                    if tid not in result.infeasible or reason:
                        result.infeasible[tid] = reason
                    continue
                result.infeasible.pop(tid, None)
                robot = fleet[assign[j]]
                k = chosen[j]
                a = Assignment(
                    task_id=tid, robot_id=robot.robot_id, term=term, leader=self.leader, cost_s=float(won.cost[k]),
                    finish_at=float(won.finish[k]), lease_until=now + self.board.lease_s,
                    charge_first=bool(won.charge_first[k]),
                )
                if a.charge_first:
                    result.assignments.append(self._insert_charge(robot, tid, now=now, term=term))
                why = f"allocated: cost {a.cost_s:.1f} s" + (", after a charging stop" if a.charge_first else "")
                self.records[tid] = transition(
                    rec, TaskState.ASSIGNED, at=now, actor=self.leader, reason=why, robot_id=robot.robot_id, term=term
                )
                self.lease_until[tid] = a.lease_until
                result.assignments.append(a)
                states[robot.robot_id] = replace(
                    robot, position=self.site.point(rec.spec.end_place), busy_until=a.finish_at,
                    battery_wh=float(won.energy_j[k]) / 3600.0, queue_len=robot.queue_len + 1,
                )
                placed += 1
            if placed == 0:
                break
        for tid, reason in result.infeasible.items():
            rec = self.records[tid]
            if rec.state is TaskState.QUEUED:
                self.records[tid] = replace(rec, last_infeasible=reason, retry_at=now + self.board.retry_s)
        return result

    def _round(self, pending: list[TaskRecord], fleet: list[RobotState], now: float
               ) -> tuple[np.ndarray, Callable[[int], str], _Won, str]:
        tasks = self._task_arrays(pending)
        robots = RobotArrays.build(fleet, self._docks, self.dist)
        n, m = len(pending), len(fleet)
        unassigned = self.params.unassigned_cost(tasks.priority)
        kind = solver.choose(n, m, self.board.dense_limit, self.board.sparse_limit)

        index_of = {r.robot_id: i for i, r in enumerate(fleet)}
        kept = np.array(sorted(j * (m + 1) + index_of[r] for j, rec in enumerate(pending)
                               for r in self.kept_away.get(rec.spec.task_id, ()) if r in index_of), dtype=np.int64)

        def pair_bids(jj: np.ndarray, ii: np.ndarray) -> Bids:
            out = bid(tasks, robots, jj, ii, now=now, dist=self.dist, params=self.params)
            if len(kept):
                away = np.isin(out.j.astype(np.int64) * (m + 1) + out.i, kept)
                out.cost[away] = np.inf
                out.reason[away] = Infeasible.KEPT_AWAY
            return out

        if kind == "dense":
            bids = pair_bids(np.repeat(np.arange(n), m), np.tile(np.arange(m), n))
            assign = solver.solve_dense(bids.cost.reshape(n, m), unassigned)
        else:
            def pair_cost(jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
                return pair_bids(jj, ii).cost

            if kind == "sparse":
                assign = solver.solve_candidates(tasks.start, robots.pos, pair_cost, unassigned)
            else:
                assign = solver.solve_cells(tasks.start, robots.pos, pair_cost, unassigned)
            chosen = np.flatnonzero(assign >= 0)
            bids = pair_bids(chosen, assign[chosen])
            left = np.flatnonzero(assign < 0)
            if len(left):  # reasons for what stays queued: bids of the nearest robots
                k = min(REASON_NEIGHBOURS, m)
                _, near = cKDTree(robots.pos).query(tasks.start[left], k=k)
                bids = _merge(bids, pair_bids(np.repeat(left, k), np.asarray(near).reshape(-1)))
        starts = np.searchsorted(bids.j, np.arange(n + 1))  # bids are grouped by task (j non-decreasing)

        def why_unassigned(task: int) -> str:
            sel = slice(starts[task], starts[task + 1])
            if np.isfinite(bids.cost[sel]).any():
                return "outbid: every feasible robot went to a cheaper or more urgent task this round"
            return "no feasible robot: " + _summarize(bids.reason[sel])

        # the winning bid of each assigned task, found for all at once
        index = np.full(n, -1, dtype=np.int64)
        got = np.flatnonzero(assign >= 0)
        if len(got):
            key = bids.j.astype(np.int64) * (m + 1) + bids.i
            order = np.argsort(key, kind="stable")
            index[got] = order[np.searchsorted(key[order], got * (m + 1) + assign[got])]
        return assign, why_unassigned, _Won(bids, index), kind

    def _insert_charge(self, robot: RobotState, before: str, *, now: float, term: int) -> Assignment:
        """A charging task at the robot's nearest dock, assigned ahead of `before` (as rmf_task inserts one)."""
        here = np.array([robot.position], dtype=float)
        docks = self.site.docks()
        d = [float(self.dist(here, np.array([p.point], dtype=float))[0]) for p in docks]
        dock = docks[int(np.argmin(d))]
        spec = TaskSpec(task_id=f"charge-{robot.robot_id}-{before}", kind=TaskKind.CHARGE, place=dock.name,
                        priority=10, earliest_start=now)
        rec = TaskRecord.create(spec, at=now, actor=self.leader, reason=f"inserted: battery too low for {before}")
        self.records[spec.task_id] = transition(rec, TaskState.ASSIGNED, at=now, actor=self.leader,
                                                reason=f"charge before {before}", robot_id=robot.robot_id, term=term)
        self.lease_until[spec.task_id] = now + self.board.lease_s
        return Assignment(task_id=spec.task_id, robot_id=robot.robot_id, term=term, leader=self.leader, cost_s=0.0,
                          finish_at=now, lease_until=now + self.board.lease_s)

    def _task_arrays(self, pending: list[TaskRecord]) -> TaskArrays:
        pt = self.site.point
        start = np.array([pt(r.spec.start_place) for r in pending], dtype=float).reshape(-1, 2)
        end = np.array([pt(r.spec.end_place) for r in pending], dtype=float).reshape(-1, 2)
        loaded = self.dist(start, end)
        if self._docks:
            home = np.min([self.dist(end, np.tile(d, (len(end), 1))) for d in self._docks], axis=0)
        else:
            home = np.zeros(len(end))
        return TaskArrays(
            start=start, end=end, loaded_m=loaded,
            payload=np.array([r.spec.payload_kg for r in pending], dtype=float),
            handling=np.array(
                [self.params.handling_s * (2 if r.spec.kind is TaskKind.DELIVER else 0) for r in pending], dtype=float
            ),
            earliest=np.array([r.spec.earliest_start for r in pending], dtype=float),
            deadline=np.array([np.inf if r.spec.deadline is None else r.spec.deadline for r in pending], dtype=float),
            priority=np.array([r.spec.priority for r in pending], dtype=float),
            home_m=home,
        )

    # ---- robots' reports, leases, failures -------------------------------------------------------------------------
    def report(self, rep: RobotReport, *, now: float) -> None:
        """Apply a robot's report; renews the lease of the task it holds under the current term."""
        for tid in rep.done:
            rec = self.records.get(tid)
            if rec is not None and not rec.state.terminal:
                if rec.state is TaskState.QUEUED:  # the leader had lost track of it (e.g. resumed from a stale record)
                    rec = transition(rec, TaskState.ASSIGNED, at=now, actor=rep.robot_id, reason="reported by robot",
                                     robot_id=rep.robot_id, term=self.term)
                if rec.state is TaskState.ASSIGNED:
                    rec = transition(rec, TaskState.IN_PROGRESS, at=now, actor=rep.robot_id, reason="reported by robot")
                self.records[tid] = transition(rec, TaskState.DONE, at=now, actor=rep.robot_id, reason="completed")
                self.lease_until.pop(tid, None)
        for tid, why in rep.failed:
            rec = self.records.get(tid)
            if rec is not None and not rec.state.terminal and rec.robot_id == rep.robot_id:
                self._requeue(tid, at=now, actor=rep.robot_id, reason=f"robot gave it up: {why}")
        if rep.holding is not None and not self.is_kept_away(rep.holding, rep.robot_id, now):
            rec = self.records.get(rep.holding)
            if rec is not None and not rec.state.terminal:
                self.hold_until.pop(rep.holding, None)
                if rec.robot_id != rep.robot_id and (rec.term or -1) <= (rep.holding_term or -1):
                    if rec.state is not TaskState.QUEUED:
                        rec = transition(rec, TaskState.QUEUED, at=now, actor=self.leader, reason="robot report")
                    rec = transition(rec, TaskState.ASSIGNED, at=now, actor=self.leader, reason="held (report)",
                                     robot_id=rep.robot_id, term=self.term)
                if rec.robot_id == rep.robot_id:
                    if rep.started and rec.state is TaskState.ASSIGNED:
                        rec = transition(rec, TaskState.IN_PROGRESS, at=now, actor=rep.robot_id, reason="started")
                    self.records[rep.holding] = replace(rec, term=self.term)
                    self.lease_until[rep.holding] = now + self.board.lease_s
        for tid in rep.queued:
            rec = self.records.get(tid)
            if rec is not None and rec.robot_id == rep.robot_id and not rec.state.terminal:
                self.lease_until[tid] = now + self.board.lease_s
        # Tasks this board gave the robot that the robot no longer holds (dropped, lease ran out on its side).
        for tid, rec in list(self.records.items()) if rep.snapshot else ():
            if (rec.robot_id == rep.robot_id and rec.state is TaskState.IN_PROGRESS and tid != rep.holding
                    and tid not in rep.done):
                self._requeue(tid, at=now, actor=self.leader, reason="robot no longer holds it")

    def renewals(self, robot_id: str) -> list[tuple[str, float]]:
        """(task_id, lease_until) to send to a robot with the next heartbeat."""
        return [(t, self.lease_until[t]) for t, r in self.records.items()
                if r.robot_id == robot_id and not r.state.terminal and t in self.lease_until]

    def robot_lost(self, robot_id: str, *, at: float, reason: str, confirmed_stopped: bool) -> list[str]:
        """A robot failed, left or entered protective stop. Its tasks go back to the queue: at once when the robot
        confirmed it stopped (it reported it), otherwise when their leases run out (`expire_leases`)."""
        moved = []
        for tid, rec in list(self.records.items()):
            if rec.robot_id == robot_id and not rec.state.terminal:
                if confirmed_stopped:
                    self._requeue(tid, at=at, actor=self.leader, reason=f"robot {robot_id}: {reason}")
                    moved.append(tid)
                else:
                    self.lease_until[tid] = min(self.lease_until.get(tid, at), at + self.board.lease_s)
        return moved

    def expire_leases(self, now: float) -> list[str]:
        """Re-queue tasks whose lease ran out more than skew_s ago (the robot has abandoned them by then)."""
        moved = []
        for tid, until in list(self.lease_until.items()):
            if now >= until + self.board.skew_s and not self.records[tid].state.terminal:
                self._requeue(tid, at=now, actor=self.leader, reason="lease expired without renewal")
                moved.append(tid)
        return moved

    def fail_overdue(self, now: float) -> list[str]:
        """Queued tasks whose deadline has passed fail with that reason (a late task is not silently kept)."""
        moved = []
        for tid, rec in list(self.records.items()):
            if rec.state is TaskState.QUEUED and rec.spec.deadline is not None and now > rec.spec.deadline:
                why = "deadline passed before any robot could take it"
                if rec.last_infeasible:
                    why += f" (last: {rec.last_infeasible})"
                self.records[tid] = transition(rec, TaskState.FAILED, at=now, actor=self.leader, reason=why)
                moved.append(tid)
        return moved

    # ---- a new leader ------------------------------------------------------------------------------------------------
    @classmethod
    def resume(
        cls,
        site: SiteMap,
        records: Mapping[str, TaskRecord],
        reports: Iterable[RobotReport],
        *,
        leader: str,
        term: int,
        now: float,
        **kwargs: Any,
    ) -> TaskBoard:
        """A new leader's board: the cloud's record, corrected by the robots' reports; tasks no robot vouched for
        wait until every lease an older leader could have granted has run out."""
        board = cls(site, leader=leader, term=term, **kwargs)
        board.records = dict(records)
        safe_after = now + board.board.lease_s + board.board.skew_s
        board.resume_hold = safe_after
        for tid, rec in board.records.items():
            if not rec.state.terminal:
                board.hold_until[tid] = safe_after
                if rec.state is not TaskState.QUEUED:
                    board.lease_until[tid] = now + board.board.lease_s
        for rep in reports:
            board.report(rep, now=now)
        return board

    # ---- helpers -------------------------------------------------------------------------------------------------
    def _check_term(self, term: int) -> None:
        if term < self.term:
            raise StaleTermError(f"term {term} is older than this board's term {self.term}")
        self.term = term

    def _requeue(self, tid: str, *, at: float, actor: str, reason: str) -> None:
        rec = self.records[tid]
        if rec.state in (TaskState.ASSIGNED, TaskState.IN_PROGRESS):
            self.records[tid] = transition(rec, TaskState.QUEUED, at=at, actor=actor, reason=reason)
        self.lease_until.pop(tid, None)

    def _move(self, tid: str, to: TaskState, *, at: float, actor: str, reason: str) -> TaskRecord:
        rec = transition(self.records[tid], to, at=at, actor=actor, reason=reason)
        self.records[tid] = rec
        self.lease_until.pop(tid, None)
        return rec


@dataclass(frozen=True)
class _Won:
    """The bids of one round and, per task, the index of its winning bid (-1: not assigned)."""

    bids: Bids
    index: np.ndarray


def _merge(a: Bids, b: Bids) -> Bids:
    """Both bid sets in one, grouped by task again."""
    fields = ("j", "i", "cost", "finish", "energy_j", "charge_first", "reason")
    joined = [np.concatenate([getattr(a, f), getattr(b, f)]) for f in fields]
    order = np.argsort(joined[0], kind="stable")
    return Bids(*(x[order] for x in joined))
