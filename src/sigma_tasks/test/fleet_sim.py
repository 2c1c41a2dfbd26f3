"""A deterministic, seeded event simulation of task allocation in a fleet (test helper, no ROS, no sockets).

Stands in for the swarm's own simulator (sigma_swarm), which did not exist when this was written: robots with an
`AssignmentFence` each, a leader with a `TaskBoard` elected by the lowest id in a partition holding a majority of the
fleet after `election_s` without hearing a leader; a leader that cannot reach a majority for `heartbeat_s` steps
down (check-quorum), so for a while a deposed leader and the new one both act (election_s > heartbeat_s, as in
Raft). The cloud is the durable record of tasks. Assignments reach robots after a random mesh delay (up to 0.5 s,
one in ten 2-8 s), so a deposed leader's assignment can arrive after the robot heard the new term.
Faults: robot crashes (silent; some come back), protective stops (the robot drops its tasks and says so), leader
crashes (one during a cloud outage), mesh partitions with the leader on either side (the cloud stays with the
majority; robots keep their own cloud uplink, the bridge's store-and-forward path), cloud outages (mesh intact).
The simulation records every completion and, at every step, which robots are executing which task, so a test can
check that no task is lost or executed twice.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from sigma_tasks.allocator import Assignment, BoardParams, RobotReport, TaskBoard
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
    last_leader_contact: float = 0.0
    inbox: list[tuple[float, Assignment]] = field(default_factory=list)  # (arrives at, assignment)
    done: list[str] = field(default_factory=list)  # durable on the robot; reported until the end
    failed: list[tuple[str, str]] = field(default_factory=list)  # reported once to a leader


@dataclass
class Leader:
    term: int
    board: TaskBoard
    no_quorum_since: float | None = None
    last_heard: dict[str, float] = field(default_factory=dict)
    lost_reported: set[str] = field(default_factory=set)


@dataclass
class Event:
    at: float
    kind: str  # crash, recover, pstop, leader_crash, partition, heal, cloud_down, cloud_up, task
    arg: object = None


class FleetSim:
    def __init__(self, site: SiteMap, seed: int, *, robots: int = 7, tasks: int = 60, dt: float = 0.5,
                 lease_s: float = 10.0, skew_s: float = 1.0, election_s: float = 3.0, heartbeat_s: float = 2.0,
                 max_delay_s: float = 2.0):
        self.rng = random.Random(seed)
        self.site, self.dt, self.election_s, self.heartbeat_s = site, dt, election_s, heartbeat_s
        self.max_delay_s = max_delay_s
        self.params = BoardParams(lease_s=lease_s, skew_s=skew_s, max_queue=2)
        spawn = [(-10.0 + 3 * k, 0.0) for k in range(robots)]
        self.robots = {f"r{k}": SimRobot(f"r{k}", spawn[k], AssignmentFence(f"r{k}")) for k in range(robots)}
        self.groups: list[set[str]] = [set(self.robots) | {CLOUD}]
        self.cloud_up = True
        self.cloud: dict[str, TaskRecord] = {}
        self.cloud_term = 0
        self.leaders: dict[str, Leader] = {}
        self.term = 0  # the highest term ever elected
        self.now = 0.0
        self.completions: dict[str, list[tuple[str, float]]] = {}
        self.concurrent: list[tuple[float, str, list[str]]] = []
        self.refused_stale = 0  # assignments a robot's fence refused because a newer term was known
        self.requeue_delays: list[tuple[str, float, float]] = []  # (fault kind, at, seconds until queued again)
        self.elections: list[float] = []
        self.cloud_returns: list[float] = []
        self.overlap_steps = 0  # steps with two leaders acting at once
        self._pending_requeue: list[tuple[str, float, set[str]]] = []
        self.events = self._script(tasks)
        self.log: list[str] = []

    # ---- scenario ----------------------------------------------------------------------------------------------------
    def _script(self, n_tasks: int) -> list[Event]:
        rng, ids = self.rng, sorted(self.robots)
        shelves = [p for p in self.site.places if p.startswith("shelf_")]
        ev = [Event(rng.uniform(0, 300), "task", TaskSpec(
            f"t{k}", TaskKind.DELIVER, pickup=rng.choice(shelves), dropoff="packing", payload_kg=rng.uniform(1, 15),
            priority=rng.randint(0, 3))) for k in range(n_tasks)]
        crash, pstop = rng.sample(ids, 2)
        ev += [Event(rng.uniform(20, 60), "crash", crash), Event(rng.uniform(150, 200), "recover", crash)]
        ev += [Event(rng.uniform(30, 90), "pstop", pstop)]
        ev += [Event(rng.uniform(40, 70), "leader_crash"), Event(rng.uniform(100, 130), "leader_crash")]
        start = rng.uniform(140, 170)  # the leader ends up on the minority side in about half the runs
        ev += [Event(start, "partition", rng.random() < 0.5), Event(start + rng.uniform(15, 30), "heal")]
        down = rng.uniform(220, 240)  # a cloud outage with a leader crash inside it
        ev += [Event(down, "cloud_down"), Event(down + rng.uniform(2, 8), "leader_crash"),
               Event(down + rng.uniform(15, 30), "cloud_up")]
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
        """Step until `until` or until every scripted event happened and every task is done."""
        while self.now < until and not self.all_done():
            while self.events and self.events[0].at <= self.now:
                self._apply(self.events.pop(0))
            self._elect()
            if len(self.leaders) > 1:
                self.overlap_steps += 1
            for lid in sorted(self.leaders, key=lambda r: self.leaders[r].term):
                self._lead(lid)
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
            r.alive, r.working_on, r.last_leader_contact = True, None, self.now
            r.fence = AssignmentFence(r.rid, finished=set(r.done))  # what it finished is on its disk
        elif e.kind == "pstop":
            r = self.robots[str(e.arg)]
            r.stopped_until = self.now + 20.0
            dropped = r.fence.drop_all()
            r.failed += [(t, "protective stop") for t in dropped]
            r.working_on = None
            self._expect_requeue("pstop", set(dropped))
        elif e.kind == "leader_crash" and self.leaders:
            victim = max(self.leaders, key=lambda r: self.leaders[r].term)
            self._crash(victim, "leader crash")
            self.events.append(Event(self.now + 40.0, "recover", victim))
            self.events.sort(key=lambda x: x.at)
        elif e.kind == "partition":  # arg: whether the current leader is cut off on the minority side
            ids = sorted(self.robots)
            size = (len(ids) - 1) // 2
            leader = max(self.leaders, key=lambda r: self.leaders[r].term) if self.leaders else None
            others = [r for r in ids if r != leader]
            minority = {*self.rng.sample(others, size - 1), leader} if e.arg and leader else set(
                self.rng.sample(others, size))
            self.groups = [minority, (set(self.robots) - minority) | {CLOUD}]
            self.log[-1] += f" minority {sorted(minority)}"
        elif e.kind == "heal":
            self.groups = [set(self.robots) | {CLOUD}]
        elif e.kind == "cloud_down":
            self.cloud_up = False
        elif e.kind == "cloud_up":
            self.cloud_up = True
            self.cloud_returns.append(self.now)

    def _crash(self, rid: str, why: str) -> None:
        r = self.robots[rid]
        held = {q.task_id for q in r.fence.queue}
        r.alive, r.working_on = False, None
        r.fence.queue.clear()
        r.inbox.clear()
        self.leaders.pop(rid, None)
        self._expect_requeue(why, held)

    def _expect_requeue(self, kind: str, tasks: set[str]) -> None:
        if tasks:
            self._pending_requeue.append((kind, self.now, tasks))

    # ---- leaders -----------------------------------------------------------------------------------------------------
    def _elect(self) -> None:
        n = len(self.robots)
        for lid, led in list(self.leaders.items()):
            reach = self.reachable(lid)
            newer = any(self.robots[r].fence.highest_term > led.term for r in reach)
            if len(reach) > n // 2:
                led.no_quorum_since = None
            elif led.no_quorum_since is None:
                led.no_quorum_since = self.now
            if newer or (led.no_quorum_since is not None and self.now - led.no_quorum_since >= self.heartbeat_s):
                self.log.append(f"{self.now:7.1f} {lid} steps down (term {led.term})")
                del self.leaders[lid]
        for rid in sorted(self.robots):
            r = self.robots[rid]
            if not r.alive or self.now - r.last_leader_contact < self.election_s:
                continue
            voters = self.reachable(rid)
            if len(voters) <= n // 2 or any(self.now - self.robots[v].last_leader_contact < self.election_s
                                            for v in voters):
                continue  # no majority, or a voter still hears a leader
            self.term += 1
            records = dict(self.cloud) if self.linked(rid, CLOUD) else {}
            reports = [self._report(v) for v in voters]
            board = TaskBoard.resume(self.site, records, reports, leader=rid, term=self.term, now=self.now,
                                     board=self.params)
            self.leaders[rid] = Leader(self.term, board, last_heard={v: self.now for v in self.robots})
            for v in voters:
                self.robots[v].fence.highest_term = max(self.robots[v].fence.highest_term, self.term)
                self.robots[v].last_leader_contact = self.now
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

    def _lead(self, lid: str) -> None:
        led = self.leaders[lid]
        board, term, now = led.board, led.term, self.now
        cloud_ok = self.linked(lid, CLOUD)
        if cloud_ok:  # new tasks and completions the robots reported through their own uplinks
            for tid, rec in self.cloud.items():
                if tid not in board.records:
                    board.add(rec.spec, at=now, actor="cloud")
                elif rec.state is TaskState.DONE and not board.records[tid].state.terminal:
                    board.report(RobotReport(rec.robot_id or "cloud", done=(tid,)), now=now)
        reach = self.reachable(lid)
        for rid in reach:
            r = self.robots[rid]
            if r.fence.highest_term > term:
                continue  # it follows a newer leader; this one steps down at the next step
            board.report(self._report(rid), now=now)
            r.failed.clear()
            r.fence.highest_term = term  # the heartbeat carries the term
            r.last_leader_contact = now
            led.last_heard[rid] = now
            led.lost_reported.discard(rid)
        for rid, heard in led.last_heard.items():
            if now - heard > self.heartbeat_s and rid not in led.lost_reported:
                board.robot_lost(rid, at=now, reason="heartbeat lost", confirmed_stopped=False)
                led.lost_reported.add(rid)
        board.expire_leases(now)
        fleet = []
        for rid in reach:
            r = self.robots[rid]
            if r.stopped_until > now or r.fence.highest_term > term:
                continue
            held = [t for t, rec in board.records.items() if rec.robot_id == rid and not rec.state.terminal]
            fleet.append(RobotState(rid, r.pos, queue_len=len(held)))
        result = board.allocate(fleet, now=now, term=term)
        for a in result.assignments:  # over the mesh, with a delay
            late = self.rng.random() < 0.1  # a retransmission backlog now and then
            delay = self.rng.uniform(self.max_delay_s, 4 * self.max_delay_s) if late else self.rng.uniform(0.0, 0.5)
            self.robots[a.robot_id].inbox.append((now + delay, a))
        for rid in reach:
            for tid, until in board.renewals(rid):
                self.robots[rid].fence.renew(tid, until, term)
        if cloud_ok and term >= self.cloud_term:
            self.cloud_term = term
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
            if not r.alive:
                continue
            for item in [x for x in r.inbox if x[0] <= self.now]:
                r.inbox.remove(item)
                ok, why = r.fence.offer(item[1], now=self.now)
                if not ok and why.startswith("term"):
                    self.refused_stale += 1
            if r.stopped_until > self.now:
                r.failed += [(t, "protective stop") for t in r.fence.drop_all()]
                continue
            if r.working_on in r.fence.expire(self.now):
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
        for led in self.leaders.values():
            if tid in led.board.records:
                return led.board.records[tid].spec
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
