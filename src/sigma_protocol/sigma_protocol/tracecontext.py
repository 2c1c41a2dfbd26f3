"""W3C Trace Context (`traceparent`) for the device protocol, standard library only (no OpenTelemetry on the robot).

A device request may carry a `traceparent` header (protocol feature "trace-context", docs/device-protocol.md). It is
deliberately OUTSIDE the signed string: it is observability metadata that grants nothing, intermediaries (proxies,
collectors) may legitimately rewrite its parent id, and a forged one can at worst mislabel a trace. Receivers
validate it strictly and ignore (never refuse) a malformed one. Decisions carry the trace they belong to back to the
robot, which continues it in its acknowledgement.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

HEADER_TRACEPARENT = "traceparent"
PROTOCOL_REVISION = "1.3"  # + traceparent (1.1), columnar batches (1.2), priority lane (1.3); signatures unchanged
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceParent:
    """trace id (32 hex), parent span id (16 hex), flags (bit 0: sampled)."""

    trace_id: str
    span_id: str
    flags: int = 1

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The parsed header, or None when absent or malformed (all-zero ids are invalid per W3C)."""
    if not value or len(value) != 55:
        return None
    match = TRACEPARENT_RE.match(value)
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return TraceParent(match[1], match[2], int(match[3], 16))


def new_traceparent(sampled: bool = True) -> TraceParent:
    """A new trace whose root span is the caller's (random ids from os.urandom)."""
    return TraceParent(_nonzero(16), _nonzero(8), 1 if sampled else 0)


def child_traceparent(parent: TraceParent) -> TraceParent:
    """A new span in the same trace (what the caller sends when it continues `parent`)."""
    return TraceParent(parent.trace_id, _nonzero(8), parent.flags)


def _nonzero(size: int) -> str:
    while True:
        value = os.urandom(size).hex()
        if set(value) != {"0"}:
            return value
