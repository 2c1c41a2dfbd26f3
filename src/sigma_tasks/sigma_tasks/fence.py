"""Robot side of allocation: which assignments a robot accepts and when it must let a task go.

A robot executes an assignment only if its term is not older than the newest term it has seen (fencing: a deposed
leader cannot hand out work), never re-executes a task it has finished, and abandons a task whose lease was not
renewed in time (so a leader may safely hand it to another robot after the lease plus a skew margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma_tasks.allocator import Assignment


@dataclass
class AssignmentFence:
    """Per-robot acceptance state. `queue[0]` is the task being executed."""

    robot_id: str
    highest_term: int = -1
    queue: list[Assignment] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)

    def offer(self, a: Assignment, *, now: float) -> tuple[bool, str]:
        """Accept or refuse an assignment arriving at `now`; returns (accepted, why)."""
        if a.robot_id != self.robot_id:
            return False, f"addressed to {a.robot_id}"
        if a.term < self.highest_term:
            return False, f"term {a.term} is older than {self.highest_term}"
        if a.task_id in self.finished:
            return False, "already finished"
        if now >= a.lease_until:
            return False, "lease already expired"
        if a.term > self.highest_term:
            self.highest_term = a.term
        if any(q.task_id == a.task_id for q in self.queue):
            self.renew(a.task_id, a.lease_until, a.term)
            return True, "renewed"
        self.queue.append(a)
        return True, "accepted"

    def renew(self, task_id: str, lease_until: float, term: int) -> bool:
        if term < self.highest_term:
            return False
        self.highest_term = term
        for k, q in enumerate(self.queue):
            if q.task_id == task_id:
                self.queue[k] = Assignment(**{**q.__dict__, "lease_until": max(q.lease_until, lease_until),
                                              "term": term})
                return True
        return False

    def expire(self, now: float) -> list[str]:
        """Drop assignments whose lease ran out; returns their task ids (the robot stops working on them)."""
        gone = [q.task_id for q in self.queue if now >= q.lease_until]
        self.queue = [q for q in self.queue if now < q.lease_until]
        return gone

    def current(self) -> Assignment | None:
        return self.queue[0] if self.queue else None

    def complete(self, task_id: str) -> None:
        self.finished.add(task_id)
        self.queue = [q for q in self.queue if q.task_id != task_id]

    def drop_all(self) -> list[str]:
        """Protective stop or failure: let every task go."""
        gone = [q.task_id for q in self.queue]
        self.queue.clear()
        return gone
