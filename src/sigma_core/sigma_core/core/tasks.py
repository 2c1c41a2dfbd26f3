"""The task contract in plain Python: what a Task message (or a Primary AI decision) asks, validated.

Mirrors ``sigma_interfaces/Task`` and ``TaskStatus`` (codes equal the messages' constants) so issuers' tests and the
node use the same definitions. Validation here is structural; places are checked against the site map by the
executor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    """Task.KIND_*"""

    GO_TO = 0
    DELIVER = 1
    DOCK = 2
    HOLD = 3
    CANCEL = 4


class State(IntEnum):
    """TaskStatus.STATE_*"""

    ACCEPTED = 0
    REFUSED = 1
    ACTIVE = 2
    SUCCEEDED = 3
    FAILED = 4
    CANCELED = 5
    PREEMPTED = 6


FINAL = frozenset({State.REFUSED, State.SUCCEEDED, State.FAILED, State.CANCELED, State.PREEMPTED})
ACTIONS = {"go_to": Kind.GO_TO, "deliver": Kind.DELIVER, "dock": Kind.DOCK, "hold": Kind.HOLD,
           "cancel": Kind.CANCEL}
# decisions on the same topic for the swarm leader's fleet_tasks node (sigma_fleet_tasks takes exactly these: a cloud
# task to allocate, or its cancel), not for this robot's executor
FLEET_ACTIONS = frozenset({"fleet_task", "fleet_task_cancel"})
MAX_PAYLOAD = 200.0   # [kg] beyond any humanoid: above this a mass is malformed, not merely over the limit


class TaskError(ValueError):
    """A malformed task; the message names the field and the value."""


@dataclass(frozen=True)
class TaskSpec:
    """One task as issued (Task message fields, SI units)."""

    task_id: str
    kind: Kind
    issuer: str = ""
    place: str = ""
    pickup: str = ""
    dropoff: str = ""
    payload_mass: float = 0.0
    charge_to: float = 0.0
    duration: float = 0.0
    priority: int = 0
    deadline: float = 0.0          # [s] on the caller's clock; 0 = none
    speed_limit: float = math.inf  # [m/s] from a Primary AI decision; inf = none
    term: int = 0                  # fencing token (the swarm leader's election term); 0 = not fenced


@dataclass(frozen=True)
class StatusReport:
    """One TaskStatus to publish."""

    task_id: str
    kind: int
    state: State
    step: str = ""
    progress: float = 0.0
    distance_remaining: float = math.nan
    speed_limit: float = math.nan
    payload_limit: float = math.nan
    commander: int = 2
    reason: str = ""
    term: int = 0                  # the Task's term, echoed (the cloud compares it: older terms are refused)


def validate(spec: TaskSpec) -> TaskSpec:
    """Return ``spec`` if structurally valid, else raise TaskError naming the field."""
    if not spec.task_id or len(spec.task_id) > 128:
        raise TaskError(f"task_id must be 1..128 characters, got {spec.task_id!r}")
    try:
        kind = Kind(int(spec.kind))
    except ValueError:
        raise TaskError(f"kind {spec.kind} is not one of {[k.value for k in Kind]}") from None
    for name in ("payload_mass", "charge_to", "duration", "deadline"):
        v = getattr(spec, name)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise TaskError(f"{name} must be a finite number >= 0, got {v!r}")
    if not (isinstance(spec.speed_limit, (int, float)) and spec.speed_limit > 0) or math.isnan(spec.speed_limit):
        raise TaskError(f"speed_limit must be > 0, got {spec.speed_limit!r}")
    if not isinstance(spec.term, int) or spec.term < 0:
        raise TaskError(f"term must be an integer >= 0, got {spec.term!r}")
    if not 0 <= spec.priority <= 255:
        raise TaskError(f"priority must be 0..255, got {spec.priority}")
    if kind == Kind.GO_TO and not spec.place:
        raise TaskError("go_to needs a place")
    if kind == Kind.DELIVER:
        if not spec.pickup or not spec.dropoff:
            raise TaskError("deliver needs pickup and dropoff")
        if not 0 < spec.payload_mass <= MAX_PAYLOAD:
            raise TaskError(f"payload_mass must be in (0, {MAX_PAYLOAD}] kg, got {spec.payload_mass}")
    if kind == Kind.DOCK and spec.charge_to > 1.0:
        raise TaskError(f"charge_to must be in [0, 1], got {spec.charge_to}")
    return spec if kind is spec.kind else TaskSpec(**{**spec.__dict__, "kind": kind})


def fence_key(issuer: str) -> str:
    """The issuer family whose terms form one sequence: ``swarm:<leader>`` → ``swarm`` (every leader of the site's
    mesh draws from the same election terms, so a deposed leader's older term is refused whoever sends it)."""
    return issuer.split(":", 1)[0]


def _number(params: dict[str, str], key: str, default: float) -> float:
    text = params.get(key)
    if text is None or text == "":
        return default
    try:
        return float(text)
    except ValueError:
        raise TaskError(f"parameter {key}={text!r} is not a number") from None


def task_from_decision(action: str, params: dict[str, str], issuer: str, deadline: float) -> TaskSpec:
    """The task a Primary AI decision asks for (action = a task kind, parameters as in docs/contracts.md)."""
    if action not in ACTIONS:
        raise TaskError(f"action {action!r} is not one of {sorted(ACTIONS)}")
    unknown = sorted(set(params) - {"task_id", "place", "pickup", "dropoff", "payload_mass", "charge_to",
                                    "duration", "priority", "speed_limit"})
    if unknown:
        raise TaskError(f"unknown parameter(s) {', '.join(unknown)}")
    priority = _number(params, "priority", 0)
    if priority != int(priority):
        raise TaskError(f"priority must be an integer, got {params.get('priority')!r}")
    spec = TaskSpec(
        task_id=params.get("task_id", ""), kind=ACTIONS[action], issuer=issuer, place=params.get("place", ""),
        pickup=params.get("pickup", ""), dropoff=params.get("dropoff", ""),
        payload_mass=_number(params, "payload_mass", 0.0), charge_to=_number(params, "charge_to", 0.0),
        duration=_number(params, "duration", 0.0), priority=int(priority), deadline=0.0,
        speed_limit=_number(params, "speed_limit", math.inf),
    )
    return validate(spec)
