"""A deterministic, seeded event simulation of task allocation in a fleet (test helper, no ROS, no sockets).

Stands in for the swarm's own simulator (sigma_swarm), which did not exist when this was written: robots with an
`AssignmentFence` each, a leader with a `TaskBoard` elected by the lowest id in a partition holding a majority of the
fleet (check-quorum: a leader that cannot reach a majority steps down), the cloud as the durable record of tasks.
Faults: robot crashes (silent; some come back), protective stops (the robot drops its tasks and says so), leader
crashes, mesh partitions (the cloud stays with the majority; robots keep their own cloud uplink, the bridge's
store-and-forward path), cloud outages (mesh intact). The simulation records every completion and, at every step,
which robots are executing which task, so a test can check that no task is lost or executed twice.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from sigma_tasks.allocator import BoardParams, RobotReport, TaskBoard
from sigma_tasks.cost import RobotState
from sigma_tasks.fence import AssignmentFence
from sigma_tasks.model import SiteMap, TaskKind, TaskSpec
from sigma_tasks.states import TaskRecord, TaskState, transition

CLOUD = "cloud"


@dataclass
class SimRobot:
    rid: str
    pos: tuple[float, float]
    fence: AssignmentFence
    alive: bool = True
    stopped_until: float = -1.0
    working_on: str | None = None
    remaining_s: float = 0.0
    done: list[str] = field(default_factory=list)  # durable on the robot; reported until the end
    failed: list[tuple[str, str]] = field(default_factory=list)  # reported once to a leader


@dataclass
class Event:
    at: float
    kind: str  # crash, recover, pstop, leader_crash, partition, heal, cloud_down, cloud_up, task
    arg: object = None


class FleetSim:
    def __init__(self, site: SiteMap, seed: int, *, robots: int = 7, tasks: int = 40, dt: float = 0.5,
                 lease_s: float = 10.0, skew_s: float = 1.0, election_s: float = 1.0, heartbeat_s: float = 2.0):
        self.rng = random.Random(seed)
        self.site, self.dt, self.election_s, self.heartbeat_s = site, dt, election_s, heartbeat_s
        self.params = BoardParams(lease_s=lease_s, skew_s=skew_s, max_queue=2)
        spawn = [(-10.0 + 3 * k, 0.0) for k in range(robots)]
        self.robots = {f"r{k}": SimRobot(f"r{k}", spawn[k], AssignmentFence(f"r{k}")) for k in range(robots)}
        self.groups: list[set[str]] = [set(self.robots) | {CLOUD}]
        self.cloud_up = True
        self.cloud: dict[str, TaskRecord] = {}
        self.cloud_term = 0
        self.leader: str | None = None
        self.board: TaskBoard | None = None
        self.term = 0
        self.no_leader_since = 0.0
        self.now = 0.0
        self.completions: dict[str, list[tuple[str, float]]] = {}
        self.concurrent: list[tuple[float, str, list[str]]] = []
        self.last_heard: dict[str, float] = {}
        self.lost_reported: set[str] = set()
        self.requeue_delays: list[tuple[str, float, float]] = []  # (fault kind, at, seconds until queued again)
        self.elections: list[float] = []
        self._pending_requeue: list[tuple[str, float, set[str]]] = []
        self.events = self._script(tasks)
        self.log: list[str] = []

    # ---- scenario ----------------------------------------------------------------------------------------------------
    def _script(self, n_tasks: int) -> list[Event]:
        rng, ids = self.rng, sorted(self.robots)
        shelves = [p for p in self.site.places if p.startswith("shelf_")]
        ev = [Event(rng.uniform(0, 120), "task", TaskSpec(
            f"t{k}", TaskKind.DELIVER, pickup=rng.choice(shelves), dropoff="packing", payload_kg=rng.uniform(1, 15),
            priority=rng.randint(0, 3))) for k in range(n_tasks)]
        crash, pstop = rng.sample(ids, 2)
        ev += [Event(rng.uniform(20, 60), "crash", crash), Event(rng.uniform(150, 200), "recover", crash)]
        ev += [Event(rng.uniform(30, 90), "pstop", pstop)]
        ev += [Event(rng.uniform(40, 70), "leader_crash"), Event(rng.uniform(100, 130), "leader_crash")]
        minority = set(rng.sample(ids, len(ids) // 2 - (0 if len(ids) % 2 else 1)))
        start = rng.uniform(140, 170)
        ev += [Event(start, "partition", minority), Event(start + rng.uniform(15, 30), "heal")]
        down = rng.uniform(220, 240)
        ev += [Event(down, "cloud_down"), Event(down + rng.uniform(10, 25), "cloud_up")]
        return sorted(ev, key=lambda e: e.at)

    # ---- topology --------------------------------------------------------------------------------------------------
    def linked(self, a: str, b: str) -> bool:
        if CLOUD in (a, b):
            return self.cloud_up  # robots reach the cloud over their own uplink; only an outage cuts it
        return any(a in g and b in g for g in self.groups)

    def up(self, rid: str) -> bool:
        return self.robots[rid].alive

    def reachable(self, rid: str) -> list[str]:
        return [r for r in self.robots if self.up(r) and self.linked(rid, r)]

    # ---- main loop -------------------------------------------------------------------------------------------------
    def run(self, until: float) -> None:
        while self.now < until:
            while self.events and self.events[0].at <= self.now:
                self._apply(self.events.pop(0))
            self._elect()
            self._lead()
            self._robots()
            self.now += self.dt

    def all_done(self) -> bool:
        specs = [r for r in self.cloud.values() if not r.spec.task_id.startswith("charge-")]
        return not self.events and bool(specs) and all(r.state is TaskState.DONE for r in specs)

    def _apply(self, e: Event) -> None:
        self.log.append(f"{self.now:7.1f} {e.kind} {e.arg if not isinstance(e.arg, TaskSpec) else e.arg.task_id}")
        if e.kind == "task":
            spec = e.arg
            self.cloud[spec.task_id] = TaskRecord.create(spec, at=self.now, actor="fleet-manager")
        elif e.kind == "crash":
            self._crash(str(e.arg), "crash")
        elif e.kind == "recover" and not self.robots[str(e.arg)].alive:
            r = self.robots[str(e.arg)]
            r.alive, r.working_on = True, None
            r.fence = AssignmentFence(r.rid, finished=set(r.done))  # what it finished is on its disk
        elif e.kind == "pstop":
            r = self.robots[str(e.arg)]
            r.stopped_until = self.now + 20.0
            dropped = r.fence.drop_all()
            r.failed += [(t, "protective stop") for t in dropped]
            r.working_on = None
            self._expect_requeue("pstop", set(dropped))
        elif e.kind == "leader_crash" and self.leader is not None:
            victim = self.leader
            self._crash(victim, "leader crash")
            self.events.append(Event(self.now + 40.0, "recover", victim))
            self.events.sort(key=lambda x: x.at)
        elif e.kind == "partition":
            minority = set(e.arg)  # type: ignore[arg-type]
            self.groups = [minority, (set(self.robots) - minority) | {CLOUD}]
        elif e.kind == "heal":
            self.groups = [set(self.robots) | {CLOUD}]
        elif e.kind == "cloud_down":
            self.cloud_up = False
        elif e.kind == "cloud_up":
            self.cloud_up = True

    def _crash(self, rid: str, why: str) -> None:
        r = self.robots[rid]
        held = {q.task_id for q in r.fence.queue}
        r.alive, r.working_on = False, None
        r.fence.queue.clear()
        if rid == self.leader:
            self.leader, self.board, self.no_leader_since = None, None, self.now
        self._expect_requeue(why, held)

    def _expect_requeue(self, kind: str, tasks: set[str]) -> None:
        if tasks:
            self._pending_requeue.append((kind, self.now, tasks))

    # ---- leader ------------------------------------------------------------------------------------------------------
    def _elect(self) -> None:
        n = len(self.robots)
        if self.leader is not None and len(self.reachable(self.leader)) <= n // 2:
            self.log.append(f"{self.now:7.1f} {self.leader} steps down (no quorum)")
            self.leader, self.board, self.no_leader_since = None, None, self.now
        if self.leader is not None or self.now - self.no_leader_since < self.election_s:
            return
        for rid in sorted(self.robots):
            if self.up(rid) and len(self.reachable(rid)) > n // 2:
                self.term += 1
                self.leader = rid
                records = dict(self.cloud) if self.linked(rid, CLOUD) else {}
                reports = [self._report(r) for r in self.reachable(rid)]
                self.board = TaskBoard.resume(self.site, records, reports, leader=rid, term=self.term, now=self.now,
                                              board=self.params)
                self.last_heard = {r: self.now for r in self.robots}
                self.lost_reported = set()
                self.log.append(f"{self.now:7.1f} {rid} leads term {self.term}")
                self.elections.append(self.now)
                return

    def _report(self, rid: str) -> RobotReport:
        r = self.robots[rid]
        cur = r.fence.current()
        return RobotReport(rid, holding=cur.task_id if cur else None, holding_term=cur.term if cur else None,
                           started=r.working_on is not None and cur is not None and r.working_on == cur.task_id,
                           queued=tuple(q.task_id for q in r.fence.queue[1:]),
                           done=tuple(r.done), failed=tuple(r.failed))

    def _lead(self) -> None:
        board, lid = self.board, self.leader
        if board is None or lid is None:
            return
        now = self.now
        cloud_ok = self.linked(lid, CLOUD)
        if cloud_ok:  # new tasks and completions the robots reported through their own uplinks
            for tid, rec in self.cloud.items():
                if tid not in board.records:
                    board.add(rec.spec, at=now, actor="cloud")
                elif rec.state is TaskState.DONE and not board.records[tid].state.terminal:
                    board.report(RobotReport(rec.robot_id or "cloud", done=(tid,)), now=now)
        for rid in self.reachable(lid):
            r = self.robots[rid]
            board.report(self._report(rid), now=now)
            r.failed.clear()
            self.last_heard[rid] = now
            self.lost_reported.discard(rid)
        for rid, heard in self.last_heard.items():
            if now - heard > self.heartbeat_s and rid not in self.lost_reported:
                board.robot_lost(rid, at=now, reason="heartbeat lost", confirmed_stopped=False)
                self.lost_reported.add(rid)
        board.expire_leases(now)
        fleet = []
        for rid in self.reachable(lid):
            r = self.robots[rid]
            if r.stopped_until > now:
                continue
            held = [t for t, rec in board.records.items() if rec.robot_id == rid and not rec.state.terminal]
            fleet.append(RobotState(rid, r.pos, queue_len=len(held)))
        result = board.allocate(fleet, now=now, term=self.term)
        for a in result.assignments:
            self.robots[a.robot_id].fence.offer(a)
        for rid in self.reachable(lid):
            for tid, until in board.renewals(rid):
                self.robots[rid].fence.renew(tid, until, self.term)
        if cloud_ok and self.term >= self.cloud_term:
            self.cloud_term = self.term
            for tid, rec in board.records.items():
                if tid not in self.cloud or not self.cloud[tid].state.terminal:
                    self.cloud[tid] = rec
        for kind, at, tasks in list(self._pending_requeue):
            if all(t in board.records and (board.records[t].state.terminal or any(
                    h.to_state is TaskState.QUEUED and h.at >= at for h in board.records[t].history)) for t in tasks):
                self.requeue_delays.append((kind, at, now - at))
                self._pending_requeue.remove((kind, at, tasks))

    # ---- robots ------------------------------------------------------------------------------------------------------
    def _robots(self) -> None:
        executing: dict[str, list[str]] = {}
        for r in self.robots.values():
            if not r.alive or r.stopped_until > self.now:
                continue
            if r.working_on is not None and r.working_on in r.fence.expire(self.now):
                self.log.append(f"{self.now:7.1f} {r.rid} abandons {r.working_on} (lease)")
                r.working_on = None
            cur = r.fence.current()
            if cur is None:
                continue
            if r.working_on != cur.task_id:
                spec = self._spec(cur.task_id)
                start = self.site.point(spec.start_place)
                end = self.site.point(spec.end_place)
                r.working_on = cur.task_id
                r.remaining_s = math.dist(r.pos, start) + math.dist(start, end) + 10.0
            executing.setdefault(cur.task_id, []).append(r.rid)
            r.remaining_s -= self.dt
            if r.remaining_s <= 0:
                spec = self._spec(cur.task_id)
                r.pos = self.site.point(spec.end_place)
                self.completions.setdefault(cur.task_id, []).append((r.rid, self.now))
                r.fence.complete(cur.task_id)
                r.done.append(cur.task_id)
                r.working_on = None
                if self.cloud_up:
                    self._cloud_done(cur.task_id, r.rid, cur.term)
        for tid, who in executing.items():
            if len(who) > 1:
                self.concurrent.append((self.now, tid, who))
        if self.cloud_up:  # the bridge's store-and-forward delivers what was finished during an outage
            for r in self.robots.values():
                for tid in r.done:
                    self._cloud_done(tid, r.rid, None)

    def _spec(self, tid: str) -> TaskSpec:
        if self.board is not None and tid in self.board.records:
            return self.board.records[tid].spec
        return self.cloud[tid].spec

    def _cloud_done(self, tid: str, rid: str, term: int | None) -> None:
        rec = self.cloud.get(tid)
        if rec is None or rec.state.terminal:
            return
        if rec.state is TaskState.QUEUED:
            rec = transition(rec, TaskState.ASSIGNED, at=self.now, actor=rid, reason="reported by robot",
                             robot_id=rid, term=term if term is not None else self.cloud_term)
        if rec.state is TaskState.ASSIGNED:
            rec = transition(rec, TaskState.IN_PROGRESS, at=self.now, actor=rid, reason="reported by robot")
        self.cloud[tid] = transition(rec, TaskState.DONE, at=self.now, actor=rid, reason="completed")
