"""Robot log shipping (an optional endpoint of sigma-v1, docs/logs.md): signed batches of structured log records.

A robot's bridge turns each `rcl_interfaces/msg/Log` record of its `/rosout` into a record object and sends them in
`POST LOGS_PATH` batches, signed like every device request. Records are numbered per *stream* (one bridge
incarnation; its id is chosen at start) with strictly increasing `seq`; the cloud keeps a high-water mark per
(robot, stream), so a batch resent after a lost answer is stored once. A batch also carries the stream's cumulative
drop counters (records the robot dropped under a dead cloud or a rate limit, per severity): the cloud keeps the
largest value it has seen, so resends never double them.

Pure: standard library and orjson only, no clock of its own (time is passed in).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from sigma_protocol.models import EventError, ProtocolError

LOGS_PATH = "/v1/devices/{robot_id}/logs"
# rcl_interfaces/msg/Log levels (the byte values of its DEBUG..FATAL constants), lowest first.
SEVERITIES: dict[int, str] = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}
SEVERITY_OF_NAME: dict[str, int] = {name: level for level, name in SEVERITIES.items()}
DROP_REASONS = ("buffer", "rate")  # evicted from the full buffer under a dead cloud / over the per-node rate limit
MAX_LOG_RECORDS = 5000  # per batch
MAX_MESSAGE_CHARS = 4096  # the bridge truncates longer messages (marked with a trailing "…")
MAX_NAME_CHARS = 256  # node, function
MAX_FILE_CHARS = 512
MAX_STREAM = 2**63 - 1
# A W3C trace id in a message: "trace_id=<32 hex>" (the cloud's JSON logs, OpenTelemetry's log correlation) or a
# whole traceparent "00-<32 hex>-<16 hex>-<2 hex>" (what the device protocol carries).
TRACE_ID_RE = re.compile(r"(?:trace_id\"?\s*[=:]\s*\"?|\b00-)([0-9a-f]{32})\b")
_FIELDS = {"seq", "ts", "severity", "node", "message", "file", "function", "line", "trace_id"}


def severity_name(level: int) -> str:
    """The name of an rcl log level; levels between the named ones round down (rcl's own loggers use only these)."""
    best = "debug"
    for value, name in SEVERITIES.items():
        if level >= value:
            best = name
    return best


def find_trace_id(message: str) -> str:
    """The first trace id a log message carries, or "" (only messages naming one are searched)."""
    if "trace" not in message and "00-" not in message:
        return ""
    m = TRACE_ID_RE.search(message)
    return m.group(1) if m and m.group(1) != "0" * 32 else ""


def encode_log_batch(robot_id: str, stream: int, records: Iterable[Mapping[str, Any]],
                     dropped: Mapping[str, Mapping[str, int]]) -> bytes:
    """The body of one log batch: records in increasing seq; `dropped[reason][severity]` cumulative for the stream."""
    return orjson.dumps({"robot_id": robot_id, "stream": stream, "records": list(records),
                         "dropped": {r: dict(v) for r, v in dropped.items()}})


@dataclass(frozen=True)
class LogAck:
    """The cloud's answer to a durable log batch: every record of `stream` up to `acked_through` is stored."""

    robot_id: str
    stream: int
    accepted: int
    duplicates: int
    acked_through: int
    refused: int = 0  # records skipped for a problem of their own (the ack's `errors` name them)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogAck:
        """Parse the cloud's JSON acknowledgement."""
        return cls(str(data["robot_id"]), int(data["stream"]), int(data["accepted"]), int(data["duplicates"]),
                   int(data["acked_through"]), int(data.get("refused", 0)))


def _int(value: Any, low: int, high: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _record_errors(index: int, rec: Any, previous: int, now: float, max_age_s: float,
                   max_future_s: float) -> list[EventError]:
    if not isinstance(rec, dict):
        return [EventError(index, None, "", "record must be an object")]
    seq = rec.get("seq")
    shown: int | None = None
    errors: list[EventError] = []
    if _int(seq, 1, MAX_STREAM):
        shown = seq
        if seq <= previous:
            errors.append(EventError(index, seq, "seq", f"must be greater than the previous record's seq {previous}"))
    else:
        errors.append(EventError(index, None, "seq", "must be an integer in [1, 2^63)"))
    unknown = set(rec) - _FIELDS
    if unknown:
        errors.append(EventError(index, shown, sorted(unknown)[0],
                                 f"unknown field; one of {', '.join(sorted(_FIELDS))}"))
    ts = rec.get("ts")
    if not (isinstance(ts, (int, float)) and not isinstance(ts, bool) and math.isfinite(ts)):
        errors.append(EventError(index, shown, "ts", "must be UNIX time in seconds (a finite number)"))
    elif not now - max_age_s <= ts <= now + max_future_s:
        errors.append(EventError(index, shown, "ts", f"{ts:.3f} is outside the accepted window "
                                 f"[now - {max_age_s:.0f} s, now + {max_future_s:.0f} s]"))
    if rec.get("severity") not in SEVERITIES:
        errors.append(EventError(index, shown, "severity", f"must be one of {sorted(SEVERITIES)} (rcl levels)"))
    checks = (("node", MAX_NAME_CHARS, True), ("message", MAX_MESSAGE_CHARS, True), ("file", MAX_FILE_CHARS, False),
              ("function", MAX_NAME_CHARS, False))
    for key, limit, required in checks:
        if (required or key in rec) and not _text(rec.get(key), limit):
            errors.append(EventError(index, shown, key, f"must be a string of at most {limit} characters"))
    if "line" in rec and not _int(rec["line"], 0, 2**31 - 1):
        errors.append(EventError(index, shown, "line", "must be an integer in [0, 2^31)"))
    if rec.get("trace_id", "") and not re.fullmatch(r"[0-9a-f]{32}", str(rec.get("trace_id"))):
        errors.append(EventError(index, shown, "trace_id", "must be 32 lowercase hex digits or empty"))
    return errors


def validate_log_batch(data: Any, robot_id: str, now: float, max_age_s: float,
                       max_future_s: float = 300.0) -> tuple[int, list[dict[str, Any]], dict[str, dict[str, int]],
                                                             list[EventError]]:
    """Check a decoded log batch of `robot_id`: (stream, records, dropped, per-record errors).

    Problems of the batch as a whole raise ProtocolError (400 malformed, 403 another robot's body, 413 too many);
    per-record problems are all collected, each naming the record's index, seq and field."""
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ProtocolError(400, "malformed-batch",
                            'body must be {"robot_id": ..., "stream": ..., "records": [...], "dropped": {...}}')
    if data.get("robot_id") != robot_id:
        raise ProtocolError(403, "robot-mismatch", f"body robot_id {data.get('robot_id')!r} is not the signer "
                            f"{robot_id!r}")
    stream = data.get("stream")
    if not _int(stream, 0, MAX_STREAM):
        raise ProtocolError(400, "malformed-batch", "stream must be an integer in [0, 2^63)")
    records: list[Any] = data["records"]
    if len(records) > MAX_LOG_RECORDS:
        raise ProtocolError(413, "batch-too-large", f"{len(records)} records exceed the limit of {MAX_LOG_RECORDS}")
    dropped = data.get("dropped", {})
    ok = isinstance(dropped, dict) and all(
        reason in DROP_REASONS and isinstance(counts, dict)
        and all(name in SEVERITY_OF_NAME and _int(n, 0, MAX_STREAM) for name, n in counts.items())
        for reason, counts in dropped.items())
    if not ok:
        raise ProtocolError(400, "malformed-batch", f"dropped must map a reason ({', '.join(DROP_REASONS)}) to "
                            f"counts per severity ({', '.join(SEVERITY_OF_NAME)})")
    if not records and not dropped:
        raise ProtocolError(400, "malformed-batch", "a batch carries records or drop counters")
    errors: list[EventError] = []
    previous = 0
    for index, rec in enumerate(records):
        errors.extend(_record_errors(index, rec, previous, now, max_age_s, max_future_s))
        if isinstance(rec, dict) and _int(rec.get("seq"), 1, MAX_STREAM):
            previous = max(previous, rec["seq"])
    return int(stream), records, dropped, errors
