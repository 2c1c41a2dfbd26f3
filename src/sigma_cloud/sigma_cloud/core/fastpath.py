"""Fast batch decoding with msgspec (C-speed typed validation) for the ingest hot path.

It only ever accepts batches the reference validator (sigma_protocol.validate_batch) accepts: any doubt
(a msgspec validation error, a window, order or length check failing, a `units` map to convert) returns None and
the caller takes the reference path, which also produces the precise per-event errors.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

import sigma_protocol as protocol
from sigma_protocol import channels

Finite = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


# gc=False: decoded values hold no reference cycles, and untracked structs keep a 1000-event batch from triggering
# the cyclic garbage collector (measured: a third of the decode time).
class RawEvent(msgspec.Struct, gc=False):
    seq: Seq
    ts: Finite
    channel: Literal[tuple(protocol.CHANNELS)]  # type: ignore[valid-type]  # every protocol channel
    payload: msgspec.Raw


class RawBatch(msgspec.Struct, gc=False):
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
                                    for name, spec in channels.FAULT_FIELDS.items()], forbid_unknown_fields=True,
                          gc=False)


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
    return msgspec.defstruct(channel.title().replace("_", ""), members, forbid_unknown_fields=True, gc=False)


PAYLOAD_TYPES = {name: _payload_struct(name) for name in protocol.CHANNELS}
DECODERS: dict[str, msgspec.json.Decoder[Any]] = {name: msgspec.json.Decoder(kind)
                                                  for name, kind in PAYLOAD_TYPES.items()}
# One C call decodes and validates all of a batch's payloads of one channel (a JSON array of them).
LIST_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {name: msgspec.json.Decoder(list[kind])  # type: ignore[valid-type]  # a runtime type
                                                       for name, kind in PAYLOAD_TYPES.items()}
BATCH_DECODER = msgspec.json.Decoder(RawBatch)
# The numeric fields in the reference order (protocol.CHANNELS), as struct attribute names.
FIELDS = {name: tuple(fields) for name, fields in protocol.CHANNELS.items()}
_GETTERS = {name: tuple(attrgetter(f) for f in fields) for name, fields in FIELDS.items()}
_NAME = attrgetter("name")
_UNITS_KEY = b'"units"'


class FastBatch(msgspec.Struct):
    """Decoded columns of a valid batch. `groups` maps each channel present to (the positions of its events in the
    batch, their numeric features: a float64 matrix, one row per event, or a list of rows when widths differ)."""

    seqs: list[int]
    ts: list[float]
    channels: list[str]
    payload_texts: list[bytes]
    groups: dict[str, tuple[list[int], Any]]


def _rows(channel: str, payloads: list[Any]) -> list[list[float]] | None:
    """Per-event features (the general case: optional fields, ragged lists); None when a named channel's list
    lengths disagree with its names (the reference path then reports it)."""
    rows: list[list[float]] = []
    named = channel in protocol.NAMED_CHANNELS
    for payload in payloads:
        row: list[float] = []
        for key in FIELDS[channel]:
            value = getattr(payload, key)
            if value.__class__ is list:
                if named and len(value) not in (0, len(payload.name)):
                    return None
                row.extend(value)
            elif value is not msgspec.UNSET:
                row.append(value)
        rows.append(row)
    return rows


def _matrix(channel: str, payloads: list[Any]) -> Any:
    """The channel's features as one float64 matrix, column block by field (numpy, no per-value Python), or the
    per-event rows when the payloads are not uniform (a field present in some events only, lists of varying
    length); None when invalid."""
    blocks = []
    list_widths = set()
    for getter in _GETTERS[channel]:
        column = list(map(getter, payloads))
        absent = column.count(msgspec.UNSET)
        if absent:
            if absent == len(column):  # a field no event of this batch carries contributes nothing
                continue
            return _rows(channel, payloads)
        try:
            block = np.array(column, dtype=np.float64)
        except ValueError:  # lists of varying length, or numbers mixed with lists
            return _rows(channel, payloads)
        if block.ndim == 2 and block.shape[1]:
            list_widths.add(block.shape[1])
        blocks.append(block.reshape(len(payloads), -1))
    matrix = np.hstack(blocks) if blocks else np.zeros((len(payloads), 0))
    # Named channels: every list field has len(name) entries or none (a uniform block has one width for all).
    if list_widths and channel in protocol.NAMED_CHANNELS and (
            len(list_widths) > 1 or {len(n) for n in map(_NAME, payloads)} != list_widths):
        return _rows(channel, payloads)
    return matrix


def decode(body: bytes, robot_id: str, now: float, max_age_s: float, max_events: int,
           max_future_s: float) -> FastBatch | None:
    """Decode and validate a batch; None means: use the reference path.

    The envelope is decoded once (payloads kept as raw JSON, stored as sent); each channel's payloads are then
    validated by one typed msgspec call over a JSON array of them, and their features taken column-wise."""
    if _UNITS_KEY in body:  # unit conversion is the reference path's job (rare: robots send SI units)
        return None
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
    channels = [e.channel for e in events]
    raws = [e.payload for e in events]
    positions: dict[str, list[int]] = {}
    for index, channel in enumerate(channels):
        positions.setdefault(channel, []).append(index)
    groups: dict[str, tuple[list[int], Any]] = {}
    try:
        for channel, where in positions.items():
            payloads = LIST_DECODERS[channel].decode(b"[" + b",".join([raws[i] for i in where]) + b"]")
            features = _matrix(channel, payloads)
            if features is None:
                return None
            groups[channel] = (where, features)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    return FastBatch(seqs, ts, channels, [bytes(raw) for raw in raws], groups)
