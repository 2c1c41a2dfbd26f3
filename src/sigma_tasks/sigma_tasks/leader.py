"""The swarm leader's task duty without ROS: what a leader node does with the cloud's `fleet_task` decisions, the
robots' `tasks/status` reports and its periodic tick. A node translates messages to these calls and sends the
returned requests as `sigma_interfaces/Task` on each robot's `tasks/request` (TASK_CONTRACT, docs/tasks.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sigma_tasks.allocator import Assignment, BoardParams, RobotReport, TaskBoard
from sigma_tasks.cost import CostParams, PairDistance, RobotState, euclidean_pairs
from sigma_tasks.model import SiteMap, TaskError, TaskKind, TaskSpec
from sigma_tasks.states import TaskRecord, TaskState

# sigma_interfaces/Task kinds and TaskStatus states (TASK_CONTRACT.md)
TASK_KIND = {TaskKind.GO_TO: 0, TaskKind.DELIVER: 1, TaskKind.CHARGE: 2}
KIND_CANCEL = 4
REQUEUED_FROM = "requeued_from"  # fleet_task parameter: the robot the cloud took the task from (keep it away)
ACCEPTED, REFUSED, ACTIVE, SUCCEEDED, FAILED, CANCELED, PREEMPTED = range(7)


@dataclass(frozen=True)
class TaskRequest:
    """One `sigma_interfaces/Task` to publish on `/<robot_id>/tasks/request` (field names as in the message)."""

    robot_id: str
    task_id: str
    issuer: str
    kind: int
    place: str = ""
    pickup: str = ""
    dropoff: str = ""
    payload_mass: float = 0.0
    priority: int = 0  # 0..255 on the wire; ours 0..10 scaled by 25
    deadline: float = 0.0  # 0 = none
    charge_to: float = 0.0  # KIND_DOCK: state of charge to reach (an inserted charging stop); 0 = once docked
    term: int = 0
    lease_until: float = 0.0


class LeaderTasks:
    """A leader's task board plus the translation to and from the robots' task contract. Constructed when the robot
    takes office (`now`), from the cloud's open tasks and the robots' reports; like every resumed board it holds back
    what it learns until any lease an older leader granted has run out."""

    def __init__(self, site: SiteMap, *, leader: str, term: int, params: CostParams | None = None,
                 board: BoardParams | None = None, dist: PairDistance = euclidean_pairs,
                 records: Mapping[str, TaskRecord] | None = None, reports: Iterable[RobotReport] = (),
                 now: float = 0.0) -> None:
        self.leader = leader
        self.board = TaskBoard.resume(site, records or {}, reports, leader=leader, term=term, now=now,
                                      params=params, board=board, dist=dist)

    @property
    def term(self) -> int:
        return self.board.term

    def on_decision(self, action: str, parameters: Mapping[str, str], *, now: float) -> str | None:
        """A cloud decision addressed to the leader; returns why it was refused, or None."""
        try:
            if action == "fleet_task":
                spec = self.board.add(spec_from_parameters(parameters), at=now, actor="cloud").spec
                away = parameters.get(REQUEUED_FROM, "")
                if away:  # the cloud took it from a degraded robot: keep it away from that robot
                    self.board.keep_away(spec.task_id, away, at=now, actor="cloud",
                                         reason=f"taken away from {away} by the cloud")
                return None
            if action == "fleet_task_cancel":
                rec = self.board.records.get(parameters.get("task_id", ""))
                if rec is None or rec.state.terminal:
                    return "unknown or finished task"
                self.board.cancel(rec.spec.task_id, at=now, actor="cloud", reason=parameters.get("reason", "cancel"))
                return None
        except (TaskError, ValueError, KeyError) as exc:
            return f"refused: {exc}"
        return f"not a task action: {action!r}"

    def on_status(self, robot_id: str, task_id: str, state: int, reason: str, *, now: float) -> None:
        """A robot's `TaskStatus`: progress renews the lease, a final state ends or re-queues the task."""
        rec = self.board.records.get(task_id)
        if rec is None or rec.state.terminal or rec.robot_id not in (None, robot_id):
            return
        if state == SUCCEEDED:
            self.board.report(RobotReport(robot_id, done=(task_id,)), now=now)
        elif state in (REFUSED, FAILED, PREEMPTED):
            self.board.report(RobotReport(robot_id, failed=((task_id, reason or "no reason"),)), now=now)
        elif state in (ACCEPTED, ACTIVE) and rec.robot_id == robot_id:
            self.board.report(RobotReport(robot_id, holding=task_id, holding_term=rec.term,
                                          started=state == ACTIVE, snapshot=False), now=now)

    def tick(self, robots: Iterable[RobotState], *, now: float, lost: Iterable[tuple[str, str, bool]] = ()
             ) -> list[TaskRequest]:
        """One allocation step: robots lost since the last tick ((robot, why, confirmed stopped)), expired leases,
        overdue tasks, then optimal assignment. Returns the requests to publish (charging stops first)."""
        for robot_id, why, confirmed in lost:
            self.board.robot_lost(robot_id, at=now, reason=why, confirmed_stopped=confirmed)
        self.board.expire_leases(now)
        self.board.fail_overdue(now)
        result = self.board.allocate(list(robots), now=now, term=self.board.term)
        return [self.request(a) for a in result.assignments]

    def cancels(self, robot_id: str, task_id: str) -> TaskRequest:
        """A KIND_CANCEL request for a task a robot holds."""
        return TaskRequest(robot_id, task_id, f"swarm:{self.leader}", KIND_CANCEL, term=self.board.term)

    def request(self, a: Assignment) -> TaskRequest:
        spec = self.board.records[a.task_id].spec
        return TaskRequest(
            robot_id=a.robot_id, task_id=a.task_id, issuer=f"swarm:{self.leader}", kind=TASK_KIND[spec.kind],
            place=spec.place or "", pickup=spec.pickup or "", dropoff=spec.dropoff or "",
            payload_mass=spec.payload_kg, priority=min(255, spec.priority * 25),
            deadline=spec.deadline or 0.0, term=a.term, lease_until=a.lease_until,
            charge_to=self.board.params.charge_to if spec.kind is TaskKind.CHARGE else 0.0)


def spec_from_parameters(p: Mapping[str, str]) -> TaskSpec:
    """A `fleet_task` decision's parameters (strings, as the cloud sends them) as a TaskSpec."""
    deadline = float(p["deadline"]) if p.get("deadline") else None
    start = float(p.get("earliest_start") or 0.0)
    if not math.isfinite(start) or (deadline is not None and not math.isfinite(deadline)):
        raise ValueError("earliest_start and deadline must be finite")
    kind = TaskKind(p["kind"])
    return TaskSpec(task_id=p["task_id"], kind=kind, pickup=p.get("pickup"), dropoff=p.get("dropoff"),
                    place=p.get("place"), payload_kg=float(p.get("payload_mass") or 0.0),
                    priority=int(p.get("priority") or 0), earliest_start=start, deadline=deadline)


__all__ = ["LeaderTasks", "TaskRequest", "TaskState", "spec_from_parameters"]
