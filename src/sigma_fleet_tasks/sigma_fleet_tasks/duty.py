"""Fleet tasks on one robot, without ROS: the robot's side (term fence, what to hand its executor, what to tell the
leader) and the leader's side (sigma_tasks' LeaderTasks fed with the members' reports). ``fleet_tasks_node`` only
translates messages to these calls. Time is passed in (wall-clock seconds: leases cross robots).

Mesh payloads are compact JSON (at most 768 bytes, sigma_swarm's limit):
- leader command ``task_assignment``: {"robot", "task", "kind", "place", "pickup", "dropoff", "mass", "prio",
  "deadline", "lease", "charge_to"} (the term is the command's fencing token; the robot passes it on as
  ``Task.term`` so its executor can refuse an older term too);
- leader command ``task_renew``: {"robot", "leases": {task: lease_until}};
- member report ``task_snapshot``: {"at": place, "holding": [task, term, state] | null, "done": [...],
  "failed": [[task, reason], ...], "cap": Capability.to_wire()} - what the robot holds and finished and what it can
  take on (battery, payload limit, the twin's risk, safety stop); sent on every status change, on a leader change
  and every report period (it renews the leases). The oldest "done" entries are left out if it would not fit.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sigma_fleet_tasks.capability import Capability, CapabilityParams, CapabilityTracker, robot_state
from sigma_tasks.allocator import Assignment, BoardParams, RobotReport
from sigma_tasks.cost import RobotState
from sigma_tasks.fence import AssignmentFence
from sigma_tasks.leader import ACTIVE, CANCELED, FAILED, PREEMPTED, REFUSED, SUCCEEDED, LeaderTasks, TaskRequest
from sigma_tasks.model import Place, PlaceKind, SiteMap
from sigma_tasks.states import TaskRecord, TaskState

ASSIGN, RENEW, SNAPSHOT, CANCEL = "task_assignment", "task_renew", "task_snapshot", "task_cancel"
FINAL = {SUCCEEDED, FAILED, CANCELED, PREEMPTED, REFUSED}
KEEP_DONE = 32  # finished task ids a robot keeps re-reporting (a new leader may not know yet)


def site_from_places(places: Iterable[tuple[str, str, float, float]]) -> SiteMap:
    """(name, kind, x, y) of sigma_core's site map as sigma_tasks' SiteMap ("point" places are waypoints)."""
    kinds = {k.value: k for k in PlaceKind}
    return SiteMap.from_places(Place(n, kinds.get(k, PlaceKind.WAYPOINT), x, y) for n, k, x, y in places)


MESH_LIMIT = 768  # bytes of a mesh payload (sigma_swarm)


def encode(payload: dict) -> bytes:
    data = json.dumps(payload, separators=(",", ":")).encode()
    if len(data) > MESH_LIMIT:
        raise ValueError(f"mesh payload of {len(data)} bytes exceeds {MESH_LIMIT}")
    return data


def encode_snapshot(snap: dict) -> bytes:
    """A snapshot within the mesh limit: the oldest finished tasks are left out first (a leader that needs them
    learns them from the cloud's record), then the failure reasons are shortened."""
    snap = dict(snap)
    done = list(snap.get("done", []))
    while True:
        data = json.dumps({**snap, "done": done}, separators=(",", ":")).encode()
        if len(data) <= MESH_LIMIT:
            return data
        if done:
            done.pop(0)
        elif any(len(str(why)) > 40 for _, why in snap.get("failed", [])):
            snap["failed"] = [[t, str(why)[:40]] for t, why in snap["failed"]]
        else:
            raise ValueError(f"task snapshot of {len(data)} bytes exceeds {MESH_LIMIT} even without finished tasks")


def decode(data: bytes) -> dict:
    """JSON object of a mesh payload; ValueError for anything else."""
    value = json.loads(bytes(data))
    if not isinstance(value, dict):
        raise ValueError("mesh payload is not a JSON object")
    return value


def assignment_payload(req: TaskRequest) -> bytes:
    return encode({"robot": req.robot_id, "task": req.task_id, "kind": req.kind, "place": req.place,
                   "pickup": req.pickup, "dropoff": req.dropoff, "mass": req.payload_mass, "prio": req.priority,
                   "deadline": req.deadline, "lease": req.lease_until, "issuer": req.issuer,
                   "charge_to": req.charge_to})


@dataclass
class RobotDuty:
    """The robot's side: fenced acceptance, one task at a time to its executor, snapshots for the leader."""

    robot_id: str
    at: str = ""
    fence: AssignmentFence = field(init=False)
    specs: dict[str, dict] = field(default_factory=dict)
    sent: str | None = None  # task handed to the executor and not finished
    state: int | None = None  # its last reported state
    done: deque = field(default_factory=lambda: deque(maxlen=KEEP_DONE))
    failed: list[tuple[str, str]] = field(default_factory=list)
    cap: CapabilityTracker = field(default_factory=CapabilityTracker)
    stop_grace_s: float = 20.0  # a protective stop longer than this lets the robot's tasks go (emergency: at once)
    offer_grace_s: float = 2.0  # a protective stop this long takes the robot out of allocation (emergency: at once)
    stopped_since: float | None = None
    cooldown_s: float = 60.0  # after a FAILED task the robot asks every leader for no new task this long
    cool_until: float | None = None
    cancelling: str | None = None  # the running task the leader cancelled, not yet sent to the executor

    def __post_init__(self) -> None:
        self.fence = AssignmentFence(self.robot_id)

    def on_command(self, kind: str, term: int, payload: dict, *, now: float) -> str:
        """A fenced leader command (already accepted by the swarm node); returns what happened, for the log."""
        if payload.get("robot") != self.robot_id:
            return "not for this robot"
        if kind == ASSIGN:
            a = Assignment(task_id=str(payload["task"]), robot_id=self.robot_id, term=term, leader="",
                           cost_s=0.0, finish_at=0.0, lease_until=float(payload["lease"]))
            ok, why = self.fence.offer(a, now=now)
            if ok:
                self.specs.setdefault(a.task_id, payload)
            return why
        if kind == RENEW:
            renewed = [t for t, until in dict(payload.get("leases", {})).items()
                       if self.fence.renew(str(t), float(until), term)]
            return f"renewed {len(renewed)}"
        if kind == CANCEL:
            return self._cancel(str(payload["task"]), term)
        return f"unknown kind {kind!r}"

    def _cancel(self, task_id: str, term: int) -> str:
        """The leader cancels a task this robot holds (a fleet manager cancelled it at the cloud). A running task is
        to be cancelled at the executor (`take_cancel`); its CANCELED report ends it here as usual."""
        if term < self.fence.highest_term:
            return f"term {term} is older than {self.fence.highest_term}"
        if not any(q.task_id == task_id for q in self.fence.queue):
            return "not held"
        if task_id == self.sent:
            self.cancelling = task_id
            return "cancelling the running task"
        self.fence.queue = [q for q in self.fence.queue if q.task_id != task_id]
        self.specs.pop(task_id, None)
        return "cancelled before it ran"

    def take_cancel(self) -> str | None:
        """The running task the leader cancelled, once (the node sends KIND_CANCEL to the executor)."""
        task_id, self.cancelling = self.cancelling, None
        return task_id

    def next_request(self) -> dict | None:
        """The task to hand the executor now (the fence's current one, once, with the term it holds it under as
        "term"), else None. Nothing while the robot is stopped."""
        cur = self.fence.current()
        if cur is None or cur.task_id == self.sent:
            return None
        if self.sent is not None or self.cap.stopped:
            return None  # the executor still runs one (a second would preempt it), or safety stopped the robot
        self.sent, self.state = cur.task_id, None
        return {**self.specs[cur.task_id], "term": cur.term}

    def on_safety(self, level: int, *, now: float) -> str | None:
        """The safety supervisor's level. An emergency stop, or a protective stop lasting `stop_grace_s`, lets every
        task go (reported failed, so the leader re-queues them at once); returns the running task to cancel at the
        executor, if any."""
        self.cap.on_safety(level)
        if not self.cap.stopped:
            self.stopped_since = None
            return None
        if self.stopped_since is None:
            self.stopped_since = now
        if not self.cap.emergency and now - self.stopped_since < self.stop_grace_s:
            return None
        why = "emergency stop" if self.cap.emergency else f"protective stop for {now - self.stopped_since:.0f} s"
        running = self.sent
        for tid in self.fence.drop_all():
            self.specs.pop(tid, None)
            self.failed.append((tid, why))
        self.sent = self.state = None
        return running

    def on_status(self, task_id: str, state: int, reason: str, *, now: float | None = None) -> bool:
        """The executor's TaskStatus; True when it changes what the leader should hear. A FAILED task at `now`
        starts the robot's cooldown, which its snapshots carry ("cool"), so it survives a leader change."""
        if task_id != self.sent:
            return False
        changed = state != self.state
        self.state = state
        if state in FINAL:
            spec = self.specs.pop(task_id, {})
            if state == SUCCEEDED:
                self.fence.complete(task_id)
                self.done.append(task_id)
                self.at = spec.get("dropoff") or spec.get("place") or self.at
            else:
                self.fence.queue = [q for q in self.fence.queue if q.task_id != task_id]
                self.failed.append((task_id, reason or "no reason"))
                if state == FAILED and now is not None:
                    self.cool_until = now + self.cooldown_s
            self.sent = self.state = None
        return changed

    def expire(self, now: float) -> str | None:
        """Drop assignments whose lease ran out; returns the running task to cancel at the executor, if any."""
        gone = self.fence.expire(now)
        for t in gone:
            self.specs.pop(t, None)
        if self.sent in gone:
            running, self.sent, self.state = self.sent, None, None
            return running
        return None

    def offered_stopped(self, now: float | None) -> bool:
        """Whether the leader should see this robot as stopped: an emergency stop at once, a protective stop once it
        lasted `offer_grace_s` (a person crossing, or watchdogs flapping on a starved host, stops the robot for a
        moment; offering and withdrawing it twice a second kept the leader from allocating at all). ``now=None``:
        the level as it stands."""
        if not self.cap.stopped:
            return False
        if now is None or self.cap.emergency or self.stopped_since is None:
            return True
        return now - self.stopped_since >= self.offer_grace_s

    def snapshot(self, now: float | None = None) -> dict:
        """What the leader hears from this robot (``now``: for the protective-stop debounce, see offered_stopped)."""
        cur = self.fence.current()
        holding = [cur.task_id, cur.term, self.state if cur.task_id == self.sent else None] if cur else None
        out: dict[str, Any] = {"at": self.at, "holding": holding, "done": list(self.done), "failed": list(self.failed)}
        cap = replace(self.cap.current(), stopped=self.offered_stopped(now)).to_wire()
        if cap:
            out["cap"] = cap
        if self.cool_until is not None:
            out["cool"] = round(self.cool_until, 1)
        return out

    def snapshot_sent(self) -> None:
        """Failures are reported once a snapshot carrying them was handed to the mesh (the leader re-queues)."""
        self.failed.clear()


class LeaderDuty:
    """The leader's side for one term: LeaderTasks plus who is there, where, and who failed lately."""

    def __init__(self, site: SiteMap, *, leader: str, term: int, now: float, board: BoardParams,
                 cooldown_s: float, snapshots: dict[str, dict], records: Mapping[str, TaskRecord] | None = None,
                 capability: CapabilityParams | None = None) -> None:
        """``records``: what this robot's board of an older term knew (it led the term before, too)."""
        self.tasks = LeaderTasks(site, leader=leader, term=term, board=board, now=now, records=records)
        self.site = site
        self.cooldown_s = cooldown_s
        self.capability = capability or CapabilityParams()
        self.caps: dict[str, Capability] = {}
        self.positions: dict[str, str] = {}
        self.cooldown: dict[str, float] = {}
        self.heard: set[str] = set()
        self.lost: set[str] = set()
        # reports about tasks this leader does not know yet (the cloud re-sends them to a new leader): task -> robot
        self.later: dict[str, dict[str, dict]] = {}
        # leases of tasks a robot reports holding that this leader does not know yet: renewed on the robot's word
        # until the cloud's record is resumed (`resumed`), so a running task outlives a slow claim; task -> (robot,
        # the term it holds it under, lease_until); of two robots reporting one task, the newer term's holder
        self.provisional: dict[str, tuple[str, int, float]] = {}
        self.record_resumed = False
        self.cancels: list[tuple[str, str]] = []  # (robot, task) the leader must tell to stop
        # what only the leader knows, for the cloud's record: task -> (outcome "failed" | "waiting", reason)
        self.outcomes: dict[str, tuple[str, str]] = {}
        self.waiting_told: dict[str, str] = {}
        xs = [p.x for p in site.places.values()] or [0.0]
        ys = [p.y for p in site.places.values()] or [0.0]
        self.centre = (sum(xs) / len(xs), sum(ys) / len(ys))
        for robot, snap in snapshots.items():
            self.on_snapshot(robot, snap, now=now)

    @property
    def term(self) -> int:
        return self.tasks.term

    def resumed(self) -> list[tuple[str, str]]:
        """The cloud's record of the site was resumed (the claim's open tasks went through `on_decision`): a task a
        robot still reports holding that the record does not list (cancelled or ended meanwhile) is not renewed any
        more; its lease runs out on the robot. Returns those (robot, task), for the leader's log."""
        self.record_resumed = True
        dropped = [(robot, tid) for tid, (robot, _, _) in self.provisional.items()]
        self.provisional.clear()
        return dropped

    def on_decision(self, action: str, parameters: dict[str, str], *, now: float) -> str | None:
        """A cloud decision; a `fleet_task_cancel` of a task a robot holds, or a `fleet_task` that takes it away from
        that robot (`requeued_from`, see `TaskBoard.keep_away`), queues a cancel for that robot (`take_cancels`), so
        it stops at once rather than when its lease runs out."""
        board, tid = self.tasks.board, parameters.get("task_id", "")
        rec = board.records.get(tid)
        holder = rec.robot_id if rec is not None and not rec.state.terminal else None
        why = self.tasks.on_decision(action, parameters, now=now)
        if tid in board.records:
            self.provisional.pop(tid, None)  # on the board now: its lease is the board's
        if why is None and holder and (action == "fleet_task_cancel" or board.is_kept_away(tid, holder, now)):
            self.cancels.append((holder, tid))
        for robot, snap in self.later.pop(tid, {}).items():
            self.on_snapshot(robot, snap, now=now)
        return why

    def on_snapshot(self, robot: str, snap: dict, *, now: float) -> list[tuple[str, str, str]]:
        """A member's snapshot (its own or over the mesh): position, held task, finished and failed tasks. Returns
        the changes it made to the board, (task, from state, to state), for the leader's log."""
        board = self.tasks.board
        before = {tid: rec.state.value for tid, rec in board.records.items() if not rec.state.terminal}
        self.heard.add(robot)
        self.lost.discard(robot)
        if snap.get("at"):
            self.positions[robot] = str(snap["at"])
        self.caps[robot] = Capability.from_wire(snap.get("cap"))
        cool = snap.get("cool")
        if isinstance(cool, int | float) and not isinstance(cool, bool) and math.isfinite(cool):
            self.cooldown[robot] = max(self.cooldown.get(robot, -math.inf), float(cool))
        for tid in snap.get("done", []):
            if tid not in board.records:
                self.later.setdefault(tid, {})[robot] = {"done": [tid]}
        done = tuple(t for t in snap.get("done", []) if t in board.records)
        failed = tuple((str(t), str(why)) for t, why in snap.get("failed", []) if t in board.records)
        if any(not board.records[t].state.terminal and board.records[t].robot_id == robot for t, _ in failed):
            self.cooldown[robot] = now + self.cooldown_s  # not for a task that ended meanwhile (cancelled)
        holding = snap.get("holding")
        hold_id = hold_term = None
        started = False
        if holding:
            hold_id, hold_term, state = str(holding[0]), int(holding[1]), holding[2]
            started = state == ACTIVE
            if hold_id not in board.records:
                self.later.setdefault(hold_id, {})[robot] = {"holding": holding}
                other = self.provisional.get(hold_id)
                if not self.record_resumed and hold_term <= self.term and (
                        other is None or other[0] == robot or other[1] < hold_term):
                    self.provisional[hold_id] = (robot, hold_term, now + board.board.lease_s)
                hold_id = hold_term = None
        self._forget_holdings(robot, str(holding[0]) if holding else None)
        board.report(RobotReport(robot, holding=hold_id, holding_term=hold_term, started=started, done=done,
                                 failed=failed, snapshot=False), now=now)
        if hold_id is not None and board.is_kept_away(hold_id, robot, now) and (robot, hold_id) not in self.cancels:
            self.cancels.append((robot, hold_id))  # still holds what was taken away from it: tell it again
        return [(tid, was, board.records[tid].state.value) for tid, was in before.items()
                if board.records[tid].state.value != was]

    def _forget_holdings(self, robot: str, holding: str | None) -> None:
        """The robot's latest report supersedes what it said it held before: an unknown task it no longer holds
        (finished, dropped, its lease ran out) is neither renewed nor applied when the cloud re-sends it."""
        for tid in [t for t, (r, _, _) in self.provisional.items() if r == robot and t != holding]:
            del self.provisional[tid]
        for tid, reports in list(self.later.items()):
            if tid != holding and "holding" in reports.get(robot, {}):
                del reports[robot]
                if not reports:
                    del self.later[tid]

    def robots(self, members: Iterable[str], *, now: float) -> list[RobotState]:
        """Live members that reported to this leader and are not cooling down after a failure."""
        out = []
        held: dict[str, int] = {}
        for rec in self.tasks.board.records.values():
            if rec.robot_id and not rec.state.terminal:
                held[rec.robot_id] = held.get(rec.robot_id, 0) + 1
        for robot in sorted(set(members) & self.heard):
            if self.cooldown.get(robot, -1.0) > now:
                continue
            place = self.positions.get(robot, "")
            point = self.site.point(place) if place in self.site.places else self.centre
            out.append(robot_state(robot, point, self.caps.get(robot, Capability()), queue_len=held.get(robot, 0),
                                   params=self.capability))
        return out

    def tick(self, members: Iterable[str], suspected: Iterable[str], *, now: float) -> list[TaskRequest]:
        lost = [(r, "left the mesh (suspected)", False) for r in suspected if r in self.heard and r not in self.lost]
        self.lost |= {r for r, _, _ in lost}
        records = self.tasks.board.records
        queued = {tid for tid, rec in records.items() if rec.state is TaskState.QUEUED}
        requests = self.tasks.tick(self.robots(members, now=now), now=now, lost=lost)
        for tid, rec in records.items():
            if rec.state is TaskState.FAILED and tid in queued:  # its deadline passed while nobody could take it
                self.outcomes[tid] = ("failed", rec.history[-1].reason)
                self.waiting_told.pop(tid, None)
            elif rec.state is TaskState.QUEUED and rec.last_infeasible and self.waiting_told.get(tid) != \
                    rec.last_infeasible:
                self.waiting_told[tid] = rec.last_infeasible
                self.outcomes[tid] = ("waiting", rec.last_infeasible)
        return requests

    def take_outcomes(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """Up to `limit` (task, outcome, reason) for the cloud's record (each task's latest only), removed."""
        out = [(tid, o, why) for tid, (o, why) in list(self.outcomes.items())[:limit]]
        for tid, _, _ in out:
            del self.outcomes[tid]
        return out

    def take_cancels(self) -> list[tuple[str, str]]:
        """(robot, task) pairs to send a `task_cancel` command to, once."""
        out, self.cancels = self.cancels, []
        return out

    def renewals(self) -> dict[str, dict[str, float]]:
        """{robot: {task: lease_until}} for every robot holding a task of this board, and for tasks a robot reports
        holding that are not on the board yet while the cloud's record is not resumed (`provisional`)."""
        out: dict[str, dict[str, float]] = {}
        for tid, (robot, _, until) in self.provisional.items():
            out.setdefault(robot, {})[tid] = until
        board = self.tasks.board
        for tid, rec in board.records.items():
            if rec.robot_id and not rec.state.terminal and tid in board.lease_until:
                out.setdefault(rec.robot_id, {})[tid] = board.lease_until[tid]
        return out
