"""Request/response models, named by role (Create / Public / *sPublic)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

import sigma_protocol as protocol
from sigma_cloud.core.payloads import as_object, as_text_map

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
StoredPayload = Annotated[dict[str, Any], BeforeValidator(as_object)]  # a stored non-object is wrapped, not a 500
StoredParameters = Annotated[dict[str, str], BeforeValidator(as_text_map)]  # stored non-strings shown as JSON text
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; say so in the schema instead of failing at the database


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)


class SitePublic(BaseModel):
    site_id: str
    name: str
    created_at: dt.datetime


class SitesPublic(BaseModel):
    items: list[SitePublic]
    next_offset: int | None


class SiteSummary(BaseModel):
    site_id: str
    robots_total: int
    robots_active: int
    robots_reporting: int = Field(description="active robots that sent telemetry in the last 5 minutes")
    events_total: int
    safety_events_24h: int
    pending_decisions: int
    max_recent_score: float | None = Field(description="highest anomaly score among robots' latest events")


class RobotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    robot_id: str = Field(pattern=ID_PATTERN)
    site_id: str = Field(pattern=ID_PATTERN)
    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$",
                            description="Ed25519 public key, 32 bytes, standard base64")
    model: str = Field(default="sigma_humanoid", min_length=1, max_length=100, pattern=NO_NUL)

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        protocol.load_verify_key(value)
        return value


class RobotPublic(BaseModel):
    robot_id: str
    site_id: str
    model: str
    public_key: str
    status: Literal["active", "decommissioned"]
    registered_at: dt.datetime
    decommissioned_at: dt.datetime | None
    last_seq: int
    last_seen: dt.datetime | None
    events_total: int


class RobotsPublic(BaseModel):
    items: list[RobotPublic]
    next_offset: int | None


class LatestChannel(BaseModel):
    channel: str
    seq: int
    ts: dt.datetime
    payload: StoredPayload
    score: float


class RobotLatest(BaseModel):
    robot_id: str
    channels: list[LatestChannel]


class TelemetryPoint(BaseModel):
    ts: dt.datetime = Field(description="event time, or the bucket start when downsampled")
    channel: str
    seq: int = Field(description="seq of the (last) event in the point")
    count: int = Field(description="events in the bucket (1 when not downsampled)")
    score: float = Field(description="anomaly score (the bucket's maximum when downsampled)")
    payload: StoredPayload = Field(description="the event's payload (the bucket's last when downsampled)")


class TelemetryPublic(BaseModel):
    robot_id: str
    start: dt.datetime
    end: dt.datetime
    bucket_s: float | None
    archived_days: list[dt.date] = Field(description="days answered from cold storage (Parquet)")
    items: list[TelemetryPoint]


class SafetyEventPublic(BaseModel):
    robot_id: str
    site_id: str
    seq: int
    ts: dt.datetime
    level: int | None
    previous_level: int | None
    authority: int | None
    previous_authority: int | None
    cause: str
    payload: StoredPayload


class SafetyEventsPublic(BaseModel):
    items: list[SafetyEventPublic]
    next_offset: int | None


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    robot_id: str = Field(pattern=ID_PATTERN)
    action: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    source: int = Field(default=2, ge=0, le=2, description="CognitionDecision.SOURCE_*: 0 primary AI, 2 operator")
    confidence: float = Field(ge=0.0, le=1.0)
    parameters: dict[Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)],
                     Annotated[str, Field(max_length=1024, pattern=NO_NUL)]] = Field(
        default_factory=dict, max_length=64, json_schema_extra={"additionalProperties": False},
        description="at most 64 entries, keys up to 64 and values up to 1024 characters (served on every poll)")
    ttl_s: float = Field(gt=0, le=3600, description="seconds until the decision's deadline")


class DecisionPublic(BaseModel):
    decision_id: uuid.UUID
    robot_id: str
    site_id: str
    source: int
    confidence: float
    action: str
    parameters: StoredParameters
    created_at: dt.datetime
    deadline: dt.datetime
    created_by: str
    status: Literal["pending", "applied", "rejected", "expired"]
    acked_at: dt.datetime | None
    ack_detail: str | None


class DecisionsPublic(BaseModel):
    items: list[DecisionPublic]
    next_offset: int | None


class AuditEntry(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    site_id: str | None
    target: str
    detail: dict[str, Any]
    hash: str


class AuditPublic(BaseModel):
    items: list[AuditEntry]
    next_offset: int | None
    chain_intact: bool | None = Field(description="hash chain verified (fleet admins only; null otherwise)")


class DeviceDecision(BaseModel):
    """A decision as the robot receives it (UNIX-second times; maps onto CognitionDecision)."""

    decision_id: str
    robot_id: str
    source: int
    confidence: float
    action: str
    parameters: StoredParameters
    created_at: float
    deadline: float
    status: Literal["pending", "applied", "rejected", "expired"]
    traceparent: str | None = Field(default=None, description="W3C trace context of the decision (protocol "
                                    "revision 1.1): continue it in the acknowledgement's traceparent header")


class DeviceDecisions(BaseModel):
    decisions: list[DeviceDecision]


class IngestAckPublic(BaseModel):
    robot_id: str
    accepted: int
    duplicates: int
    acked_through: int


def page(rows: list[Any], limit: int, offset: int) -> tuple[list[Any], int | None]:
    """Trim a limit+1 fetch into (items, next_offset)."""
    if len(rows) > limit:
        return rows[:limit], offset + limit
    return rows, None


class NotificationPublic(BaseModel):
    """One notification for a site's managers and operators (automated incident response)."""

    id: int
    site_id: str
    robot_id: str | None
    kind: Literal["robot_silent", "robot_back"]
    message: str
    details: StoredPayload
    created_at: dt.datetime


class NotificationsPublic(BaseModel):
    items: list[NotificationPublic]

