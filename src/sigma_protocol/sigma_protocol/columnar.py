"""Columnar batch encoding (batch format 2, protocol revision 1.2; docs/device-protocol.md "Columnar batches").

The row format (`encoding.encode_batch`: one JSON object per event) stays the protocol's base format; a robot sends
format 2 only to a cloud that advertised it (`X-Sigma-Batch-Formats` on an ingest answer). A format-2 body groups the
events of one channel and one shape into a *block*: their seqs and timestamps as JSON arrays, the shared `name` list
once, each numeric field as one little-endian array (base64, `f8` or `i8`, shape `[n]` for a number per event or
`[n, width]` for a list per event), each extra field as a JSON array of n values::

    {"robot_id": "r1", "format": 2, "blocks": [
      {"channel": "joint_states", "seq": [1, 4], "ts": [1.7e9, 1.7e9], "name": ["hip", "knee"],
       "fields": {"position": {"type": "f8", "shape": [2, 2], "data": "<base64>"}}, "extras": {}}]}

Event k of a block is the row payload {"name": name, field: column[k] for each field, extra: values[k] ...}: the same
events, the same validation (`columnar_events` turns a body back into row events for `validate_batch`), so the cloud
decodes one array per field instead of parsing every event. Pure and stdlib-only like the rest of the package.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sigma_protocol.channels import CHANNELS, EXTRAS, NAMED_CHANNELS
from sigma_protocol.models import Event, ProtocolError

BATCH_FORMAT_ROWS = 1
BATCH_FORMAT_COLUMNAR = 2
BATCH_FORMATS = (BATCH_FORMAT_ROWS, BATCH_FORMAT_COLUMNAR)
CONTENT_TYPE_COLUMNAR = "application/vnd.sigma.batch.v2+json"
HEADER_BATCH_FORMATS = "X-Sigma-Batch-Formats"  # on ingest answers: the formats this cloud accepts, e.g. "1, 2"
_TYPECODES = {"f8": "d", "i8": "q"}
_BIG_ENDIAN = sys.byteorder == "big"


class NotColumnarError(ValueError):
    """These events cannot travel in format 2 (a `units` map, a value that is not a number): send format 1."""


def accepted_formats(header: str | None) -> frozenset[int]:
    """The batch formats named in an `X-Sigma-Batch-Formats` answer header (format 1 always)."""
    formats = {BATCH_FORMAT_ROWS}
    for part in (header or "").split(","):
        if part.strip().isdigit():
            formats.add(int(part.strip()))
    return frozenset(formats)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field_shape(value: Any) -> tuple[str, int]:
    """(type, width) of one numeric field's value: width -1 for a number; NotColumnarError when not numeric."""
    if _is_number(value):
        return ("i8" if _is_int(value) else "f8"), -1
    if isinstance(value, list) and all(_is_number(v) for v in value):
        return ("i8" if value and all(_is_int(v) for v in value) else "f8"), len(value)
    raise NotColumnarError("a numeric field holds something other than a number or a list of numbers")


def _column(kind: str, values: list[Any]) -> dict[str, Any]:
    data = array(_TYPECODES[kind], values)
    if _BIG_ENDIAN:
        data.byteswap()
    return {"type": kind, "data": base64.b64encode(data.tobytes()).decode()}


def encode_columnar_batch(robot_id: str, events: Iterable[Event | Mapping[str, Any]]) -> bytes:
    """A format-2 body for row events (each {seq, ts, channel, payload}, payload a dict); NotColumnarError when an event
    cannot be expressed (send those in format 1). Blocks follow the order of each shape's first event."""
    blocks: dict[tuple, dict[str, Any]] = {}
    for item in events:
        event = item.to_json() if isinstance(item, Event) else item
        channel, payload = event["channel"], event["payload"]
        if channel not in CHANNELS or not isinstance(payload, Mapping) or "units" in payload:
            raise NotColumnarError(f"event {event.get('seq')!r} needs the row format")
        fields, extras = CHANNELS[channel], EXTRAS[channel]
        shape = []
        for key, value in payload.items():
            if key in fields:
                shape.append((key, *_field_shape(value)))
            elif key not in extras and not (key == "name" and channel in NAMED_CHANNELS):
                raise NotColumnarError(f"event {event.get('seq')!r}: unknown field {key!r}")
        names = payload.get("name")
        key = (channel, tuple(names) if isinstance(names, list) else names, tuple(sorted(shape)),
               tuple(sorted(k for k in payload if k in extras)))
        block = blocks.get(key)
        if block is None:
            block = blocks[key] = {"channel": channel, "seq": [], "ts": [], "rows": []}
            if channel in NAMED_CHANNELS:
                block["name"] = names
        block["seq"].append(event["seq"])
        block["ts"].append(event["ts"])
        block["rows"].append(payload)
    out = []
    for (channel, _, shape, extra_keys), block in blocks.items():
        rows = block.pop("rows")
        n = len(rows)
        columns = {}
        for field, kind, width in shape:
            values: list[Any] = []
            for row in rows:
                if width < 0:
                    values.append(row[field])
                else:
                    values.extend(row[field])
            column = _column(kind, values)
            column["shape"] = [n] if width < 0 else [n, width]
            columns[field] = column
        block["fields"] = {f: columns[f] for f in CHANNELS[channel] if f in columns}  # the protocol's field order
        block["extras"] = {k: [row[k] for row in rows] for k in extra_keys}
        out.append(block)
    return orjson.dumps({"robot_id": robot_id, "format": BATCH_FORMAT_COLUMNAR, "blocks": out})


def _malformed(where: str, message: str) -> ProtocolError:
    return ProtocolError(400, "malformed-batch", f"columnar batch: {where}: {message}")


def _column_values(where: str, column: Any, n: int) -> list[Any]:
    """One numeric column as n values (numbers, or lists of numbers)."""
    if not isinstance(column, dict) or set(column) != {"type", "shape", "data"}:
        raise _malformed(where, 'must be {"type": "f8"|"i8", "shape": [n] or [n, width], "data": base64}')
    kind, shape, data = column["type"], column["shape"], column["data"]
    if kind not in _TYPECODES:
        raise _malformed(f"{where}.type", 'must be "f8" or "i8"')
    if (not isinstance(shape, list) or len(shape) not in (1, 2) or not all(_is_int(s) and s >= 0 for s in shape)
            or shape[0] != n):
        raise _malformed(f"{where}.shape", f"must be [{n}] or [{n}, width] (n = the block's events)")
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        raw = None
    width = shape[1] if len(shape) == 2 else 1
    if raw is None or len(raw) != 8 * n * width:
        raise _malformed(f"{where}.data", f"must be base64 of {n * width} little-endian 8-byte values")
    values = array(_TYPECODES[kind])
    values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    flat = values.tolist()
    if len(shape) == 1:
        return flat
    return [flat[k * width:(k + 1) * width] for k in range(n)]


def columnar_events(data: Any) -> list[dict[str, Any]]:
    """The row events of a decoded format-2 body, in seq order (the reference decoding: `validate_batch` then checks
    them exactly as row events). Raises ProtocolError 400 naming the block and field of a structural problem."""
    if not isinstance(data, dict) or data.get("format") != BATCH_FORMAT_COLUMNAR \
            or not isinstance(data.get("blocks"), list) or set(data) != {"robot_id", "format", "blocks"}:
        raise ProtocolError(400, "malformed-batch", 'a columnar body must be {"robot_id": ..., "format": 2, '
                            '"blocks": [...]}')
    events = []
    for b, block in enumerate(data["blocks"]):
        where = f"blocks[{b}]"
        if not isinstance(block, dict) or block.get("channel") not in CHANNELS:
            raise _malformed(where, f"must be an object whose channel is one of {', '.join(CHANNELS)}")
        channel = block["channel"]
        allowed = {"channel", "seq", "ts", "fields", "extras"} | ({"name"} if channel in NAMED_CHANNELS else set())
        if not set(block) <= allowed:
            raise _malformed(where, f"unknown key(s) {sorted(set(block) - allowed)}")
        seqs, stamps = block.get("seq"), block.get("ts")
        if not isinstance(seqs, list) or not seqs or not isinstance(stamps, list) or len(stamps) != len(seqs):
            raise _malformed(where, "seq and ts must be non-empty lists of the same length")
        n = len(seqs)
        fields, extras = block.get("fields", {}), block.get("extras", {})
        if not isinstance(fields, dict) or not set(fields) <= set(CHANNELS[channel]):
            raise _malformed(f"{where}.fields", f"must map numeric fields of {channel} "
                             f"({', '.join(CHANNELS[channel])}) to columns")
        if not isinstance(extras, dict) or not set(extras) <= set(EXTRAS[channel]) \
                or not all(isinstance(v, list) and len(v) == n for v in extras.values()):
            raise _malformed(f"{where}.extras", f"must map extra fields of {channel} to lists of {n} values")
        columns = {f: _column_values(f"{where}.fields.{f}", c, n) for f, c in fields.items()}
        for k in range(n):
            payload: dict[str, Any] = {"name": block["name"]} if "name" in block else {}
            payload.update({f: values[k] for f, values in columns.items()})
            payload.update({e: values[k] for e, values in extras.items()})
            events.append({"seq": seqs[k], "ts": stamps[k], "channel": channel, "payload": payload})
    events.sort(key=lambda e: e["seq"] if _is_int(e["seq"]) else -1)
    return events
