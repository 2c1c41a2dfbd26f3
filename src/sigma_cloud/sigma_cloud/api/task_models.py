"""Request/response models of the task API (docs/tasks.md), named by role like api/models.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PLACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
TaskState = Literal["queued", "assigned", "in_progress", "done", "failed", "cancelled"]


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=PLACE_PATTERN)
    kind: Literal["dock", "shelf", "zone", "waypoint"]
    x: float = Field(ge=-1e6, le=1e6, description="map frame [m]")
    y: float = Field(ge=-1e6, le=1e6, description="map frame [m]")


class PlacesPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    places: list[Place] = Field(min_length=1, max_length=10_000)


class PlacesPublic(BaseModel):
    site_id: str
    items: list[Place]


class _TaskCreateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(default=0, ge=0, le=10, description="0 lowest ... 10 highest")
    earliest_start: dt.datetime | None = Field(default=None, description="default: now")
    deadline: dt.datetime | None = Field(default=None, description="after earliest_start; none = no deadline")


class DeliverCreate(_TaskCreateBase):
    """Carry a tote of `payload_kg` from `pickup` to `dropoff`."""

    kind: Literal["deliver"]
    pickup: str = Field(pattern=PLACE_PATTERN)
    dropoff: str = Field(pattern=PLACE_PATTERN)
    payload_kg: float = Field(default=0.0, ge=0.0, le=1000.0)


class GoToCreate(_TaskCreateBase):
    """Drive to `place`."""

    kind: Literal["go_to"]
    place: str = Field(pattern=PLACE_PATTERN)


class ChargeCreate(_TaskCreateBase):
    """Dock at `place` (one of the site's docks) and charge."""

    kind: Literal["charge"]
    place: str = Field(pattern=PLACE_PATTERN)


TaskCreate = Annotated[DeliverCreate | GoToCreate | ChargeCreate, Field(discriminator="kind")]


class TaskTransitionPublic(BaseModel):
    from_state: TaskState | None
    to_state: TaskState
    at: dt.datetime
    actor: str
    reason: str
    robot_id: str | None
    term: int | None


class TaskPublic(BaseModel):
    task_id: uuid.UUID
    site_id: str
    kind: Literal["deliver", "go_to", "charge"]
    pickup: str | None
    dropoff: str | None
    place: str | None
    payload_kg: float
    priority: int
    earliest_start: dt.datetime
    deadline: dt.datetime | None
    state: TaskState
    robot_id: str | None = Field(description="the robot holding the task (assigned / in progress / done)")
    term: int | None = Field(description="the swarm leader's term of that assignment, when known")
    reason: str = Field(description="why the last transition happened")
    waiting_reason: str = Field(default="", description="while queued: why the swarm leader can place it on no "
                                "robot now (its infeasibility reason), as the leader last reported it")
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str


class TaskReportRefusalPublic(BaseModel):
    robot_id: str
    state: int = Field(description="the report's sigma_interfaces/TaskStatus state")
    report_ts: dt.datetime = Field(description="the report's stamp (the robot's clock)")
    at: dt.datetime = Field(description="when the cloud refused it")
    reason: str


class TaskDetail(TaskPublic):
    history: list[TaskTransitionPublic]
    refused_reports: list[TaskReportRefusalPublic] = Field(
        default_factory=list, description="robots' reports refused because they came from an older assignment than "
                                          "the current one (the latest 100)")
    sent_to_leader: str | None = Field(default=None, description="robot the task was sent to (create only)")


class TasksPublic(BaseModel):
    items: list[TaskPublic]
    next_offset: int | None


class TaskCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")


class LeadershipClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: int = Field(ge=0, le=2**62)


class LeadershipPublic(BaseModel):
    robot_id: str
    term: int
    leader: bool = Field(description="false when a newer term already leads the site")
    open_tasks: list[TaskPublic]


class LeaderTaskOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: uuid.UUID
    outcome: Literal["failed", "waiting"] = Field(
        description="failed: the leader failed the queued task (its deadline passed); waiting: why no robot can "
                    "take it now")
    reason: str = Field(min_length=1, max_length=1024, pattern=r"^[^\x00]*$")


class LeaderTaskOutcomes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: int = Field(ge=0, le=2**62, description="the leader's term these outcomes were decided under")
    tasks: list[LeaderTaskOutcome] = Field(min_length=1, max_length=100)


class LeaderTaskOutcomeResult(BaseModel):
    task_id: uuid.UUID
    result: Literal["applied", "unchanged", "unknown"] = Field(
        description="unchanged: the task is no longer queued (a robot's report moved it); unknown: not a task of "
                    "this robot's site")


class LeaderTaskOutcomesPublic(BaseModel):
    robot_id: str
    term: int
    results: list[LeaderTaskOutcomeResult]
