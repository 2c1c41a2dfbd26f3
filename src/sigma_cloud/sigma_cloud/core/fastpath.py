"""Fast batch decoding with msgspec (C-speed typed validation) for the ingest hot path.

It only ever accepts batches the reference validator (sigma_protocol.validate_batch) accepts: any doubt
(a msgspec validation error, a window, order or length check failing, a `units` map to convert) returns None and
the caller takes the reference path, which also produces the precise per-event errors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import numpy as np

import sigma_protocol as protocol
from sigma_protocol import channels

Finite = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class RawEvent(msgspec.Struct):
    seq: Seq
    ts: Finite
    channel: Literal[tuple(protocol.CHANNELS)]  # type: ignore[valid-type]  # every protocol channel
    payload: msgspec.Raw


class RawBatch(msgspec.Struct):
    robot_id: str
    events: list[RawEvent]


# The payload types below are built at run time from sigma_protocol's tables, so to the type checker they are Any.
def _bounded(low: float, high: float) -> Any:
    return Annotated[float, msgspec.Meta(ge=low, le=high)]


def _list_of(item: Any, max_len: int) -> Any:
    """A list of at most ``max_len`` items of the run-time-built type ``item``."""
    return Annotated[list[item], msgspec.Meta(max_length=max_len)]


def _extra_type(spec: channels.Extra) -> Any:
    """The msgspec type accepting exactly what sigma_protocol.channels accepts for one extra field."""
    if spec.kind == "bool":
        kind: Any = bool
    elif spec.kind == "int":
        kind = Annotated[int, msgspec.Meta(ge=int(spec.low), le=int(spec.high))]
    elif spec.kind == "number":
        kind = _bounded(spec.low, spec.high)
    elif spec.kind == "text":
        kind = Annotated[str, msgspec.Meta(max_length=spec.max_len)]
    elif spec.kind == "names":
        kind = Annotated[list[Annotated[str, msgspec.Meta(max_length=channels.MAX_NAME_CHARS)]],
                         msgspec.Meta(max_length=spec.max_len)]
    elif spec.kind == "numbers":
        kind = _list_of(_bounded(spec.low, spec.high), spec.max_len)
    else:  # faults
        kind = _list_of(Fault, spec.max_len)
    return kind | None if spec.nullable else kind


def _optional(kind: Any) -> Any:
    return kind | msgspec.UnsetType  # explicit null is not a value: the reference path answers it


Fault = msgspec.defstruct("Fault", [(name, _optional(_extra_type(spec)), msgspec.UNSET)
                                    for name, spec in channels.FAULT_FIELDS.items()], forbid_unknown_fields=True)


def _payload_struct(channel: str) -> type[msgspec.Struct]:
    """A strict struct per channel: bounded numeric fields (scalar or list), name, units, known extras only."""
    members: list[tuple] = []
    if channel in protocol.NAMED_CHANNELS:
        members.append(("name", Annotated[list[Annotated[str, msgspec.Meta(max_length=channels.MAX_NAME_CHARS)]],
                                          msgspec.Meta(max_length=channels.MAX_LIST)]))
    for field in protocol.CHANNELS[channel]:
        low, high = channels.bounds(channel, field)
        number = _bounded(low, high)
        members.append((field, _optional(number | _list_of(number, channels.MAX_LIST)), msgspec.UNSET))
    members += [(name, _optional(_extra_type(spec)), msgspec.UNSET) for name, spec in channels.EXTRAS[channel].items()]
    members.append(("units", _optional(dict[str, str]), msgspec.UNSET))
    return msgspec.defstruct(channel.title().replace("_", ""), members, forbid_unknown_fields=True)


PAYLOAD_TYPES = {name: _payload_struct(name) for name in protocol.CHANNELS}
DECODERS: dict[str, msgspec.json.Decoder[Any]] = {name: msgspec.json.Decoder(kind)
                                                  for name, kind in PAYLOAD_TYPES.items()}
BATCH_DECODER = msgspec.json.Decoder(RawBatch)
# The numeric fields in the reference order (protocol.CHANNELS), as struct attribute names.
FIELDS = {name: tuple(fields) for name, fields in protocol.CHANNELS.items()}


class FastBatch(msgspec.Struct):
    """Decoded columns of a valid batch."""

    seqs: list[int]
    ts: list[float]
    channels: list[str]
    payload_texts: list[bytes]
    rows: list[list[float]]


def decode(body: bytes, robot_id: str, now: float, max_age_s: float, max_events: int,
           max_future_s: float) -> FastBatch | None:
    """Decode and validate a batch in one pass; None means: use the reference path."""
    try:
        batch = BATCH_DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeError):  # deep nesting, invalid UTF-8: reference path
        return None
    events = batch.events
    if batch.robot_id != robot_id or not events or len(events) > max_events:
        return None
    seqs = [e.seq for e in events]
    ts = [e.ts for e in events]
    seq_array = np.asarray(seqs, dtype=np.int64)
    ts_array = np.asarray(ts, dtype=np.float64)
    if (len(seqs) > 1 and not bool(np.all(np.diff(seq_array) > 0))) or ts_array.max() > now + max_future_s \
            or ts_array.min() < now - max_age_s:
        return None
    texts: list[bytes] = []
    rows: list[list[float]] = []
    channels: list[str] = []
    try:
        for event in events:
            channel = event.channel
            payload = DECODERS[channel].decode(event.payload)
            if payload.units is not msgspec.UNSET:
                return None
            row: list[float] = []
            for key in FIELDS[channel]:
                value = getattr(payload, key)
                if value.__class__ is list:
                    row.extend(value)
                elif value is not msgspec.UNSET:
                    row.append(value)
            if channel in protocol.NAMED_CHANNELS:
                width = len(payload.name)
                for key in FIELDS[channel]:
                    value = getattr(payload, key)
                    if value.__class__ is list and len(value) not in (0, width):
                        return None
            rows.append(row)
            channels.append(channel)
            texts.append(bytes(event.payload))
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    return FastBatch(seqs, ts, channels, texts, rows)
