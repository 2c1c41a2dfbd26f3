"""Protocol constants: version, endpoint paths, authentication headers, limits, identifier formats."""

from __future__ import annotations

import re

PROTOCOL_VERSION = "sigma-v1"

# Endpoints (paths are part of the signed string).
INGEST_PATH = "/v1/ingest/batches"
# The priority lane (protocol revision 1.3): the same route, the lane named in the signed path's query, for a
# small batch holding a safety event or alert-level telemetry (docs/device-protocol.md "Priority lane").
INGEST_PRIORITY_QUERY = "lane=priority"
INGEST_PRIORITY_PATH = INGEST_PATH + "?" + INGEST_PRIORITY_QUERY
HEADER_LANE = "X-Sigma-Lane"  # on ingest answers: the lane that stored the batch ("priority" or "bulk")
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

# Who made a decision: the wire values of Decision.source, equal to sigma_interfaces/CognitionDecision.SOURCE_*
# (the cloud imports no ROS, so it cannot read the message; sigma_tooling's test_interfaces checks they agree).
SOURCE_PRIMARY_AI = 0
SOURCE_EDGE_AI = 1
SOURCE_OPERATOR = 2
DECISION_SOURCES = (SOURCE_PRIMARY_AI, SOURCE_EDGE_AI, SOURCE_OPERATOR)

ROBOT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
