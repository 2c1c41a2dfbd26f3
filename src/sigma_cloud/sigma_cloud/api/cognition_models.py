"""Response and request bodies of the fleet-cognition routes (explanations, session memory, incident memory)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sigma_cloud.api.models import NO_NUL, StoredPayload

Outcome = Literal["open", "resolved", "false_alarm", "hardware_fault", "operator_intervention"]


class CognitionActionPublic(BaseModel):
    """One act of the Primary AI: the rule, what it did, its confidence, why (explanation) and from what (evidence)."""

    action_id: int
    robot_id: str
    site_id: str
    rule: str
    action: str
    decision_id: uuid.UUID | None
    confidence: float
    explanation: str
    evidence: StoredPayload
    created_at: dt.datetime


class CognitionActionsPublic(BaseModel):
    items: list[CognitionActionPublic]
    next_offset: int | None = None


class SessionMemoryPublic(BaseModel):
    """A robot's cognition cursor and bounded session memory (recent windows, anomaly streak, rule cool-downs)."""

    robot_id: str
    site_id: str
    last_seq: int
    last_ts: float
    memory: StoredPayload
    updated_at: dt.datetime


class IncidentPublic(BaseModel):
    incident_id: uuid.UUID
    robot_id: str
    site_id: str
    kind: str
    at: float = Field(description="UNIX seconds")
    summary: str
    outcome: str
    resolution: str
    has_recording: bool
    created_at: dt.datetime


class IncidentsPublic(BaseModel):
    items: list[IncidentPublic]
    next_offset: int | None = None


class SimilarIncident(IncidentPublic):
    distance: float = Field(description="cosine distance of the signatures (0 = identical)")


class SimilarIncidentsPublic(BaseModel):
    incident_id: uuid.UUID
    items: list[SimilarIncident]


class IncidentResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["resolved", "false_alarm", "hardware_fault", "operator_intervention"]
    resolution: str = Field(max_length=2000, pattern=NO_NUL)
