"""Canonical encoding of batch bodies, decision acknowledgements and the downlink, and batch validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sigma_protocol.channels import CHANNELS, number_ok, validate_payload
from sigma_protocol.constants import MAX_CLOCK_SKEW_S, MAX_EVENTS_PER_BATCH
from sigma_protocol.models import ACK_STATUSES, Decision, Event, EventError, ProtocolError


def encode_batch(robot_id: str, events: Iterable[Event | Mapping[str, Any]]) -> bytes:
    """Serialize a batch body (orjson). Events must be in increasing seq order."""
    items = [e.to_json() if isinstance(e, Event) else dict(e) for e in events]
    return orjson.dumps({"robot_id": robot_id, "events": items})


def validate_batch(data: Any, robot_id: str, now: float, max_age_s: float, max_events: int = MAX_EVENTS_PER_BATCH,
                   max_future_s: float = MAX_CLOCK_SKEW_S) -> tuple[list[dict[str, Any]], list[EventError]]:
    """Validate a decoded batch body for `robot_id`.

    Returns (events, errors). Batch-level problems raise ProtocolError; per-event problems are all collected
    so the client can fix them precisely. Seqs must be positive and strictly increasing within the batch.
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ProtocolError(400, "malformed-batch", 'body must be an object {"robot_id": ..., "events": [...]}')
    if data.get("robot_id") != robot_id:
        raise ProtocolError(403, "robot-mismatch", f"body robot_id {data.get('robot_id')!r} is not the signer "
                            f"{robot_id!r}")
    events: list[Any] = data["events"]
    if not events:
        raise ProtocolError(400, "malformed-batch", "events must not be empty")
    if len(events) > max_events:
        raise ProtocolError(413, "batch-too-large", f"{len(events)} events exceed the limit of {max_events}")
    errors: list[EventError] = []
    previous = 0
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            errors.append(EventError(index, None, "", "event must be an object"))
            continue
        seq = event.get("seq")
        seq_ok = isinstance(seq, int) and not isinstance(seq, bool) and 0 < seq < 2**63
        shown_seq = seq if seq_ok else None
        if not isinstance(seq, int) or not seq_ok:
            errors.append(EventError(index, None, "seq", "must be an integer in [1, 2^63)"))
        else:
            if seq <= previous:
                errors.append(EventError(index, seq, "seq",
                                         f"must be greater than the previous event's seq {previous}"))
            previous = max(previous, seq)
        ts = event.get("ts")
        if not number_ok(ts):
            errors.append(EventError(index, shown_seq, "ts", "must be UNIX time in seconds (a finite number)"))
        elif ts > now + max_future_s or ts < now - max_age_s:
            errors.append(EventError(index, shown_seq, "ts", f"{ts:.3f} is outside the accepted window "
                                     f"[now - {max_age_s:.0f} s, now + {max_future_s:.0f} s]"))
        channel = event.get("channel")
        if channel not in CHANNELS:
            errors.append(EventError(index, shown_seq, "channel", f"unknown channel {channel!r}; one of "
                                     f"{', '.join(CHANNELS)}"))
        else:
            for path, message in validate_payload(channel, event.get("payload")):
                errors.append(EventError(index, shown_seq, path, message))
    return events, errors


def encode_decision_ack(status: str, detail: str = "", applied_at: float | None = None) -> bytes:
    """Body of a decision acknowledgement: status one of applied/rejected/expired."""
    if status not in ACK_STATUSES:
        raise ValueError(f"ack status must be one of {sorted(ACK_STATUSES)}, got {status!r}")
    return orjson.dumps({"status": status, "detail": detail, "at": applied_at})


def decode_decisions(body: bytes) -> list[Decision]:
    """Parse the downlink response body of GET DECISIONS_PATH."""
    return [Decision.from_json(item) for item in orjson.loads(body)["decisions"]]
