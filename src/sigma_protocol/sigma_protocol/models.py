"""Protocol data: telemetry events, validation errors, ingest acknowledgements, decisions, protocol errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class ProtocolError(Exception):
    """A request or batch that violates the protocol; `status` and `kind` say how the server answers it."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Event:
    """One telemetry event: per-robot sequence number, UNIX time [s], channel, SI payload."""

    seq: int
    ts: float
    channel: str
    payload: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as the JSON object of a batch body."""
        return {"seq": self.seq, "ts": self.ts, "channel": self.channel, "payload": dict(self.payload)}


@dataclass(frozen=True)
class EventError:
    """One precise validation error: event index in the batch, its seq (if readable), field path, message."""

    index: int
    seq: int | None
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The error as the JSON object of a problem+json `errors` list."""
        return {"index": self.index, "seq": self.seq, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class IngestAck:
    """Server answer to an accepted batch; sent only after the batch is durable (committed)."""

    robot_id: str
    accepted: int
    duplicates: int
    acked_through: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IngestAck:
        """Parse the server's JSON acknowledgement."""
        return cls(str(data["robot_id"]), int(data["accepted"]), int(data["duplicates"]), int(data["acked_through"]))


@dataclass(frozen=True)
class Decision:
    """A decision addressed to one robot (maps onto sigma_interfaces/CognitionDecision)."""

    decision_id: str
    robot_id: str
    source: int
    confidence: float
    action: str
    parameters: dict[str, str]
    created_at: float
    deadline: float
    status: str = "pending"
    extra: dict[str, Any] = field(default_factory=dict)
    traceparent: str = ""  # W3C trace context of the decision (protocol revision 1.1; "" when none or malformed)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        """Parse one decision of the downlink response."""
        return cls(
            decision_id=str(data["decision_id"]), robot_id=str(data["robot_id"]), source=int(data["source"]),
            confidence=float(data["confidence"]), action=str(data["action"]),
            parameters={str(k): str(v) for k, v in dict(data.get("parameters") or {}).items()},
            created_at=float(data["created_at"]), deadline=float(data["deadline"]),
            status=str(data.get("status", "pending")),
            traceparent=_valid_traceparent(data.get("traceparent")),
        )

    def expired(self, now: float) -> bool:
        """True once `now` (UNIX seconds) is past the deadline: such a decision must never be applied."""
        return now > self.deadline


ACK_STATUSES = frozenset({"applied", "rejected", "expired"})


def _valid_traceparent(value: Any) -> str:
    from sigma_protocol.tracecontext import parse_traceparent

    parsed = parse_traceparent(value) if isinstance(value, str) else None
    return parsed.header() if parsed else ""
