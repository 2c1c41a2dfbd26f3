"""SigmaPrompt device protocol v1 (robot <-> cloud), see docs/device-protocol.md.

Pure and dependency-light on purpose: the robot-side bridge, the cloud and the swarm mesh all import it, so it uses
only the standard library, PyNaCl (Ed25519) and orjson. Nothing here does I/O or reads a clock: time is passed in.

Modules: `constants` (version, paths, headers, limits), `models` (events, acks, decisions, errors), `channels`
(channel ids, SI units, payload validation), `encoding` (canonical bodies, batch validation), `signing` (keys,
signing string, sign/verify), `retry` (which statuses a device retries), `roster` (the swarm mesh's cloud-signed
site roster). Everything public is re-exported here, so `import sigma_protocol as protocol;
protocol.sign_request(...)` is the usual form.
"""

from sigma_protocol.channels import CHANNEL_IDS, CHANNELS, NAMED_CHANNELS, validate_payload
from sigma_protocol.constants import (
    DECISION_ACK_PATH,
    DECISION_SOURCES,
    DECISIONS_PATH,
    HEADER_NONCE,
    HEADER_ROBOT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    INGEST_PATH,
    MAX_BODY_BYTES,
    MAX_CLOCK_SKEW_S,
    MAX_EVENTS_PER_BATCH,
    MAX_LONG_POLL_S,
    NONCE_RE,
    PROTOCOL_VERSION,
    ROBOT_ID_RE,
    SOURCE_EDGE_AI,
    SOURCE_OPERATOR,
    SOURCE_PRIMARY_AI,
)
from sigma_protocol.encoding import decode_decisions, encode_batch, encode_decision_ack, validate_batch
from sigma_protocol.models import ACK_STATUSES, Decision, Event, EventError, IngestAck, ProtocolError
from sigma_protocol.retry import RETRYABLE_STATUSES, is_retryable
from sigma_protocol.roster import (
    MAX_ROSTER_ROBOTS,
    MESH_KEY_BYTES,
    RosterError,
    SiteRoster,
    derive_mesh_key,
    open_mesh_key,
    seal_mesh_key,
    sign_roster,
    verify_roster,
)
from sigma_protocol.signing import (
    DeviceAuth,
    b64decode,
    b64encode,
    generate_keypair,
    load_verify_key,
    new_nonce,
    parse_auth_headers,
    public_key_of,
    sign_request,
    signing_string,
    verify_request,
)
from sigma_protocol.tracecontext import (
    HEADER_TRACEPARENT,
    PROTOCOL_REVISION,
    TraceParent,
    child_traceparent,
    new_traceparent,
    parse_traceparent,
)

__all__ = [
    "ACK_STATUSES", "CHANNELS", "CHANNEL_IDS", "DECISIONS_PATH", "DECISION_ACK_PATH", "DECISION_SOURCES",
    "HEADER_NONCE", "HEADER_ROBOT", "HEADER_SIGNATURE", "HEADER_TIMESTAMP", "HEADER_TRACEPARENT", "INGEST_PATH",
    "MAX_BODY_BYTES", "MAX_CLOCK_SKEW_S", "MAX_EVENTS_PER_BATCH", "MAX_LONG_POLL_S", "MAX_ROSTER_ROBOTS",
    "MESH_KEY_BYTES", "NAMED_CHANNELS", "NONCE_RE", "PROTOCOL_REVISION", "PROTOCOL_VERSION", "RETRYABLE_STATUSES",
    "ROBOT_ID_RE", "SOURCE_EDGE_AI", "SOURCE_OPERATOR", "SOURCE_PRIMARY_AI", "Decision", "DeviceAuth", "Event",
    "EventError", "IngestAck", "ProtocolError", "RosterError", "SiteRoster", "TraceParent", "b64decode", "b64encode",
    "child_traceparent", "decode_decisions", "derive_mesh_key", "encode_batch", "encode_decision_ack",
    "generate_keypair", "is_retryable", "load_verify_key", "new_nonce", "new_traceparent", "open_mesh_key",
    "parse_auth_headers", "parse_traceparent", "public_key_of", "seal_mesh_key", "sign_request", "sign_roster",
    "signing_string", "validate_batch", "validate_payload", "verify_request", "verify_roster",
]
