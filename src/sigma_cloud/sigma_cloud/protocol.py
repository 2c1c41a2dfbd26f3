"""SigmaPrompt device protocol v1 (robot <-> cloud), see docs/device-protocol.md.

Dependency-light on purpose: the robot-side bridge imports this module, so it uses only the standard library,
PyNaCl (Ed25519) and orjson. Nothing here does I/O or reads a clock: time is always passed in.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PROTOCOL_VERSION = "sigma-v1"

# Endpoints (paths are part of the signed string).
INGEST_PATH = "/v1/ingest/batches"
DECISIONS_PATH = "/v1/devices/{robot_id}/decisions"
DECISION_ACK_PATH = "/v1/devices/{robot_id}/decisions/{decision_id}/ack"

# Request headers carrying the device signature.
HEADER_ROBOT = "X-Sigma-Robot"
HEADER_TIMESTAMP = "X-Sigma-Timestamp"
HEADER_NONCE = "X-Sigma-Nonce"
HEADER_SIGNATURE = "X-Sigma-Signature"

# Limits (the server may be configured stricter, never looser).
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_EVENTS_PER_BATCH = 10_000
MAX_CLOCK_SKEW_S = 300.0
MAX_LONG_POLL_S = 25.0

ROBOT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")

# Telemetry channels and the numeric fields each payload may carry, with their SI unit.
# A value is either a number or (for the list fields) a list of numbers; names are lists of strings.
CHANNELS: dict[str, dict[str, str]] = {
    "joint_states": {"position": "rad", "velocity": "rad/s", "effort": "N*m"},
    "actuator_health": {"temperature": "degC", "current": "A", "voltage": "V"},
    "battery": {"voltage": "V", "current": "A", "charge": "Ah", "capacity": "Ah", "percentage": "1",
                "temperature": "degC"},
    "imu": {"orientation": "1", "angular_velocity": "rad/s", "linear_acceleration": "m/s^2"},
    "odom": {"position": "m", "orientation": "1", "linear": "m/s", "angular": "rad/s"},
    "safety_status": {"level": "1", "authority": "1", "sequence": "1"},
    "safety_event": {"level": "1", "previous_level": "1", "authority": "1", "previous_authority": "1",
                     "sequence": "1"},
}
# Channels whose payload must carry a "name" list matching the lengths of its list fields.
NAMED_CHANNELS = frozenset({"joint_states", "actuator_health"})
CHANNEL_IDS: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


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
        return {"seq": self.seq, "ts": self.ts, "channel": self.channel, "payload": dict(self.payload)}


@dataclass(frozen=True)
class EventError:
    """One precise validation error: event index in the batch, its seq (if readable), field path, message."""

    index: int
    seq: int | None
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            decision_id=str(data["decision_id"]), robot_id=str(data["robot_id"]), source=int(data["source"]),
            confidence=float(data["confidence"]), action=str(data["action"]),
            parameters={str(k): str(v) for k, v in dict(data.get("parameters") or {}).items()},
            created_at=float(data["created_at"]), deadline=float(data["deadline"]),
            status=str(data.get("status", "pending")),
        )

    def expired(self, now: float) -> bool:
        """True once `now` (UNIX seconds) is past the deadline: such a decision must never be applied."""
        return now > self.deadline


ACK_STATUSES = frozenset({"applied", "rejected", "expired"})


# ---------------------------------------------------------------------------------------------------------------
# Keys and signatures


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private seed, public key), both base64 (32 bytes each)."""
    key = SigningKey.generate()
    return b64encode(bytes(key)), b64encode(bytes(key.verify_key))


def public_key_of(private_seed_b64: str) -> str:
    return b64encode(bytes(SigningKey(b64decode(private_seed_b64)).verify_key))


def load_verify_key(public_key_b64: str) -> VerifyKey:
    """Parse a base64 Ed25519 public key, raising ValueError with a clear message when it is not one."""
    try:
        raw = b64decode(public_key_b64)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("public_key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"public_key must decode to 32 bytes (Ed25519), got {len(raw)}")
    return VerifyKey(raw)


def new_nonce() -> str:
    return os.urandom(16).hex()


def signing_string(method: str, path: str, robot_id: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes a device signs: version, method, path (with query), robot, timestamp, nonce, sha256(body)."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((PROTOCOL_VERSION, method.upper(), path, robot_id, timestamp, nonce, digest)).encode()


def sign_request(private_seed_b64: str | SigningKey, method: str, path: str, robot_id: str, body: bytes,
                 now: float, nonce: str | None = None) -> dict[str, str]:
    """Headers that authenticate one request. Every attempt (including a retry) gets a fresh nonce."""
    key = private_seed_b64 if isinstance(private_seed_b64, SigningKey) else SigningKey(b64decode(private_seed_b64))
    timestamp = str(int(now))
    nonce = nonce or new_nonce()
    signature = key.sign(signing_string(method, path, robot_id, timestamp, nonce, body)).signature
    return {HEADER_ROBOT: robot_id, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce,
            HEADER_SIGNATURE: b64encode(signature)}


@dataclass(frozen=True)
class DeviceAuth:
    """Parsed device authentication headers."""

    robot_id: str
    timestamp: int
    nonce: str
    signature: bytes


def parse_auth_headers(headers: Mapping[str, str]) -> DeviceAuth:
    """Read the four X-Sigma-* headers (case-insensitively) or raise ProtocolError 401."""
    lower = {k.lower(): v for k, v in headers.items()}
    values = {}
    for name in (HEADER_ROBOT, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE):
        value = lower.get(name.lower())
        if not value:
            raise ProtocolError(401, "unauthenticated", f"missing header {name}")
        values[name] = value
    robot_id = values[HEADER_ROBOT]
    if not ROBOT_ID_RE.match(robot_id):
        raise ProtocolError(401, "unauthenticated", f"{HEADER_ROBOT} is not a valid robot id")
    if not values[HEADER_TIMESTAMP].isdigit():
        raise ProtocolError(401, "unauthenticated", f"{HEADER_TIMESTAMP} must be integer UNIX seconds")
    if not NONCE_RE.match(values[HEADER_NONCE]):
        raise ProtocolError(401, "unauthenticated", f"{HEADER_NONCE} must be 32 lowercase hex digits")
    try:
        signature = b64decode(values[HEADER_SIGNATURE])
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtocolError(401, "unauthenticated", f"{HEADER_SIGNATURE} is not base64") from exc
    return DeviceAuth(robot_id, int(values[HEADER_TIMESTAMP]), values[HEADER_NONCE], signature)


def verify_request(verify_key: VerifyKey, auth: DeviceAuth, method: str, path: str, body: bytes, now: float,
                   max_skew_s: float = MAX_CLOCK_SKEW_S) -> None:
    """Check freshness and the Ed25519 signature; raise ProtocolError 401 when either fails.

    Nonce uniqueness (replay within the window) is checked by the server against its nonce store.
    """
    if abs(now - auth.timestamp) > max_skew_s:
        raise ProtocolError(401, "stale-request",
                            f"timestamp {auth.timestamp} is more than {max_skew_s:.0f} s from server time {now:.0f}; "
                            "re-sign the request with the current time")
    message = signing_string(method, path, auth.robot_id, str(auth.timestamp), auth.nonce, body)
    try:
        verify_key.verify(message, auth.signature)
    except BadSignatureError as exc:
        raise ProtocolError(401, "bad-signature", "signature does not verify with the robot's registered key") from exc


# ---------------------------------------------------------------------------------------------------------------
# Batches


def encode_batch(robot_id: str, events: Iterable[Event | Mapping[str, Any]]) -> bytes:
    """Serialize a batch body (orjson). Events must be in increasing seq order."""
    items = [e.to_json() if isinstance(e, Event) else dict(e) for e in events]
    return orjson.dumps({"robot_id": robot_id, "events": items})


def _number_ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_payload(channel: str, payload: Any) -> list[tuple[str, str]]:
    """Check one payload against its channel schema; returns (field path, message) pairs, empty when valid."""
    if not isinstance(payload, dict):
        return [("payload", "must be an object")]
    fields = CHANNELS[channel]
    problems: list[tuple[str, str]] = []
    length: int | None = None
    if channel in NAMED_CHANNELS:
        names = payload.get("name")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append(("payload.name", "must be a list of strings"))
        else:
            length = len(names)
    for key, value in payload.items():
        path = f"payload.{key}"
        if key == "name" and channel in NAMED_CHANNELS:
            continue
        if key == "units":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problems.append((path, "must map field names to unit strings"))
            continue
        if key not in fields:
            if not isinstance(value, (str, bool, int, float, type(None), list, dict)):
                problems.append((path, "unsupported value"))
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not _number_ok(item):
                    problems.append((f"{path}[{i}]", "must be a finite number"))
                    break
            if length is not None and len(value) not in (0, length):
                problems.append((path, f"has {len(value)} values but payload.name has {length}"))
        elif not _number_ok(value):
            problems.append((path, f"must be a finite number [{fields[key]}] or a list of them"))
    return problems


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
    events = data["events"]
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
        if not seq_ok:
            errors.append(EventError(index, None, "seq", "must be an integer in [1, 2^63)"))
        elif seq <= previous:
            errors.append(EventError(index, seq, "seq", f"must be greater than the previous event's seq {previous}"))
        if seq_ok:
            previous = max(previous, seq)
        ts = event.get("ts")
        if not _number_ok(ts):
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


def is_retryable(status: int) -> bool:
    """Whether a client should retry (re-signed, same events) after this HTTP status."""
    return status in RETRYABLE_STATUSES


def encode_decision_ack(status: str, detail: str = "", applied_at: float | None = None) -> bytes:
    """Body of a decision acknowledgement: status one of applied/rejected/expired."""
    if status not in ACK_STATUSES:
        raise ValueError(f"ack status must be one of {sorted(ACK_STATUSES)}, got {status!r}")
    return orjson.dumps({"status": status, "detail": detail, "at": applied_at})


def decode_decisions(body: bytes) -> list[Decision]:
    """Parse the downlink response body of GET DECISIONS_PATH."""
    return [Decision.from_json(item) for item in orjson.loads(body)["decisions"]]
