"""Task state machine: queued → assigned → in progress → done / failed(reason) / cancelled.

Every transition names who made it and why, and the leader's term where an allocation is involved. A task that
loses its robot (failure, protective stop, lease expiry) goes back to queued, so it is re-allocated, never lost.
Terminal states have no way out: a task ends in exactly one of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from sigma_tasks.model import TaskSpec


class TaskState(str, enum.Enum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED})

ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    TaskState.QUEUED: frozenset({TaskState.ASSIGNED, TaskState.FAILED, TaskState.CANCELLED}),
    TaskState.ASSIGNED: frozenset({TaskState.IN_PROGRESS, TaskState.QUEUED, TaskState.FAILED, TaskState.CANCELLED}),
    TaskState.IN_PROGRESS: frozenset({TaskState.DONE, TaskState.QUEUED, TaskState.FAILED, TaskState.CANCELLED}),
    TaskState.DONE: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
}


class InvalidTransitionError(ValueError):
    """A transition the state machine does not allow (e.g. out of a terminal state)."""


@dataclass(frozen=True)
class Transition:
    """One recorded state change: from → to at `at`, by `actor`, because `reason`."""

    from_state: TaskState | None
    to_state: TaskState
    at: float
    actor: str
    reason: str
    robot_id: str | None = None
    term: int | None = None


@dataclass(frozen=True)
class TaskRecord:
    """A task, its current state and its full history (oldest first)."""

    spec: TaskSpec
    state: TaskState = TaskState.QUEUED
    robot_id: str | None = None
    term: int | None = None  # the leader's term of the current assignment
    history: tuple[Transition, ...] = field(default_factory=tuple)
    last_infeasible: str | None = None  # why the last allocation round could not place it
    retry_at: float | None = None  # earliest time the next allocation round retries it

    @classmethod
    def create(cls, spec: TaskSpec, *, at: float, actor: str, reason: str = "created") -> TaskRecord:
        return cls(spec=spec, history=(Transition(None, TaskState.QUEUED, at, actor, reason),))


def transition(
    record: TaskRecord,
    to: TaskState,
    *,
    at: float,
    actor: str,
    reason: str,
    robot_id: str | None = None,
    term: int | None = None,
) -> TaskRecord:
    """Return `record` moved to `to`, with the transition appended; raise InvalidTransitionError if not allowed."""
    if to not in ALLOWED[record.state]:
        raise InvalidTransitionError(f"task {record.spec.task_id}: {record.state.value} → {to.value} is not allowed")
    if not reason:
        raise InvalidTransitionError(f"task {record.spec.task_id}: a transition needs a reason")
    if to is TaskState.ASSIGNED and (robot_id is None or term is None):
        raise InvalidTransitionError(f"task {record.spec.task_id}: an assignment needs a robot and the leader's term")
    keeps_robot = to in (TaskState.IN_PROGRESS, TaskState.DONE) or (to is TaskState.FAILED and record.robot_id)
    new_robot = robot_id if to is TaskState.ASSIGNED else (record.robot_id if keeps_robot else None)
    new_term = term if to is TaskState.ASSIGNED else (record.term if keeps_robot else None)
    step = Transition(record.state, to, at, actor, reason, robot_id=new_robot or robot_id, term=term or record.term)
    return replace(
        record,
        state=to,
        robot_id=new_robot,
        term=new_term,
        history=(*record.history, step),
        last_infeasible=None if to is TaskState.ASSIGNED else record.last_infeasible,
        retry_at=None if to is not TaskState.QUEUED else record.retry_at,
    )
