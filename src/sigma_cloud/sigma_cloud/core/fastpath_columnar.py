"""Fast decoding of columnar batches (batch format 2, sigma_protocol.columnar) for the ingest hot path.

One typed msgspec call decodes and validates the whole body (a tagged union of per-channel block structs generated
from sigma_protocol.channels: known fields and extras only, bounded extras, typed seqs and timestamps); each numeric
field is one numpy array (`np.frombuffer` of the block's little-endian column: no per-value parsing), checked for
finiteness, bounds and widths with one vectorized comparison, and is already the channel's feature matrix. The
payload each event is stored with is built per column (orjson prints a column's numbers once; the rows are joined in
C), so the stored JSON is the same value the row format would have carried. Any doubt returns None and the caller
takes the reference path (`sigma_protocol.columnar_events` + `validate_batch`), which also names every error.
"""

from __future__ import annotations

import functools
import operator
import sys
from itertools import repeat
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import orjson

import sigma_protocol as protocol
from sigma_cloud.core.fastpath import FIELDS, FastBatch, Finite, Seq, _extra_type
from sigma_protocol import channels

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_DTYPES = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}
_NATIVE = sys.byteorder == "little"
_NAMES = Annotated[list[Annotated[str, msgspec.Meta(max_length=channels.MAX_NAME_CHARS)]],
                   msgspec.Meta(max_length=channels.MAX_LIST)]


class Column(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["f8", "i8"]
    shape: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=protocol.MAX_EVENTS_PER_BATCH)]],
                     msgspec.Meta(min_length=1, max_length=2)]
    data: bytes  # base64 in the JSON


def _block_struct(channel: str) -> type[msgspec.Struct]:
    fields = msgspec.defstruct(f"{channel}_fields", [(f, Column | msgspec.UnsetType, msgspec.UNSET)
                                                     for f in protocol.CHANNELS[channel]],
                               forbid_unknown_fields=True, gc=False)
    extras = msgspec.defstruct(f"{channel}_extras", [(name, list[_extra_type(spec)] | msgspec.UnsetType,  # type: ignore[misc]  # a runtime type
                                                      msgspec.UNSET)
                                                     for name, spec in channels.EXTRAS[channel].items()],
                               forbid_unknown_fields=True, gc=False)
    members: list[tuple] = [("seq", Annotated[list[Seq], msgspec.Meta(min_length=1)]), ("ts", list[Finite])]
    if channel in protocol.NAMED_CHANNELS:
        members.append(("name", _NAMES))
    members += [("fields", fields, msgspec.field(default_factory=fields)),
                ("extras", extras, msgspec.field(default_factory=extras))]
    return msgspec.defstruct(f"{channel}_block", members, tag_field="channel", tag=channel,
                             forbid_unknown_fields=True, gc=False)


BLOCK_TYPES = tuple(_block_struct(name) for name in protocol.CHANNELS)
BLOCK_UNION: Any = functools.reduce(operator.or_, BLOCK_TYPES)  # a tagged union: one decode for every channel


_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(msgspec.defstruct(
    "ColumnarBody", [("robot_id", str), ("format", Literal[2]), ("blocks", list[BLOCK_UNION])],
    forbid_unknown_fields=True, gc=False))
_ENCODE = msgspec.json.encode


def _rows_json(values: np.ndarray) -> list[bytes]:
    """Each row's numbers as JSON, without brackets for a 2-D array (orjson prints the column once, C splits it)."""
    text = orjson.dumps(values, option=_NUMPY)
    if values.ndim == 1:
        return text[1:-1].split(b",")
    return text[2:-2].split(b"],[")


@functools.lru_cache(maxsize=1024)
def _limits(channel: str, layout: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a block's feature matrix (fields and widths in `layout`), the accepted low and high."""
    pairs = [channels.bounds(channel, field) for field, _ in layout]
    widths = [width for _, width in layout]
    return (np.repeat([p[0] for p in pairs], widths).astype(np.float64),
            np.repeat([p[1] for p in pairs], widths).astype(np.float64))


def _block(block: Any, channel: str) -> tuple[int, np.ndarray, np.ndarray, Any, list[bytes]] | None:
    """(n, seqs, ts, feature matrix, payload JSON per event) of one valid block; None when in doubt."""
    n = len(block.seq)
    if len(block.ts) != n:
        return None
    names = getattr(block, "name", None)
    parts: list[Any] = []  # constants (bytes) and per-row lists of JSON, joined per event at the end
    pending = b"{"  # constant text not yet in parts
    comma = b""
    if names is not None:
        pending += b'"name":' + _ENCODE(names)
        comma = b","
    blocks = []
    layout: list[tuple[str, int]] = []  # (field, width) of each column group in the feature matrix
    for field in FIELDS[channel]:
        column = getattr(block.fields, field)
        if column is msgspec.UNSET:
            continue
        shape = column.shape
        width = shape[1] if len(shape) == 2 else 1
        if shape[0] != n or len(column.data) != 8 * n * width:
            return None
        raw = np.frombuffer(column.data, dtype=_DTYPES[column.type])
        values = raw.astype(np.float64) if column.type == "i8" or not _NATIVE else raw
        if len(shape) == 2 and names is not None and width not in (0, len(names)):
            return None
        printed = raw if _NATIVE else raw.astype(raw.dtype.newbyteorder("="))
        pending += comma + b'"' + field.encode() + b'":'
        comma = b","
        if len(shape) == 1:
            parts += [pending, _rows_json(printed)]
            pending = b""
        elif width == 0:
            pending += b"[]"
        else:
            parts += [pending + b"[", _rows_json(printed.reshape(n, width))]
            pending = b"]"
        if width:
            blocks.append(values.reshape(n, width))
            layout.append((field, width))
    for name in channels.EXTRAS[channel]:
        items = getattr(block.extras, name)
        if items is msgspec.UNSET:
            continue
        if len(items) != n:
            return None
        parts += [pending + comma + b'"' + name.encode() + b'":', list(map(_ENCODE, items))]
        pending, comma = b"", b","
    parts.append(pending + b"}")
    payloads = list(map(b"".join, zip(*[repeat(p, n) if p.__class__ is bytes else p for p in parts], strict=False)))
    if len(payloads) != n:
        return None
    matrix = np.hstack(blocks) if blocks else np.zeros((n, 0))
    if blocks:  # every value within its field's bounds, one comparison per block (all bounds are finite, so NaN
        low, high = _limits(channel, tuple(layout))  # and ±inf fail it too)
        if not (bool((matrix >= low).all()) and bool((matrix <= high).all())):
            return None
    return n, np.asarray(block.seq, dtype=np.int64), np.asarray(block.ts, dtype=np.float64), matrix, payloads


def decode(body: bytes, robot_id: str, now: float, max_age_s: float, max_events: int,
           max_future_s: float) -> FastBatch | None:
    """Decode and validate a format-2 batch into the same columns as the row format's fast path; None means: use
    the reference path."""
    try:
        batch = _DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    if batch.robot_id != robot_id or not batch.blocks:
        return None
    decoded = []
    for block in batch.blocks:
        channel = block.__struct_config__.tag
        parsed = _block(block, channel)
        if parsed is None:
            return None
        decoded.append((channel, parsed))
    seq = np.concatenate([d[1][1] for d in decoded])
    ts = np.concatenate([d[1][2] for d in decoded])
    total = seq.size
    if total > max_events or ts.max() > now + max_future_s or ts.min() < now - max_age_s:
        return None
    order = np.argsort(seq, kind="stable")
    seq_sorted = seq[order]
    if total > 1 and not bool(np.all(np.diff(seq_sorted) > 0)):
        return None  # a repeated seq: the reference path names it
    rank = np.empty(total, dtype=np.int64)
    rank[order] = np.arange(total)
    channel_of: list[str] = []
    payloads: list[bytes] = []
    by_channel: dict[str, list[tuple[np.ndarray, Any]]] = {}
    offset = 0
    for channel, (n, _, _, matrix, texts) in decoded:
        by_channel.setdefault(channel, []).append((rank[offset:offset + n], matrix))
        channel_of += [channel] * n
        payloads += texts
        offset += n
    groups: dict[str, tuple[list[int], Any]] = {}
    for channel, parts in by_channel.items():
        if len(parts) == 1:
            where, matrix = parts[0]
        else:
            if len({m.shape[1] for _, m in parts}) != 1:
                return None  # one channel in several widths: the reference path's per-event rows
            where, matrix = np.concatenate([w for w, _ in parts]), np.vstack([m for _, m in parts])
        if where.size > 1 and not bool(np.all(np.diff(where) > 0)):
            perm = np.argsort(where, kind="stable")
            where, matrix = where[perm], matrix[perm]
        groups[channel] = (where.tolist(), matrix)
    index = order.tolist()
    return FastBatch(seq_sorted.tolist(), ts[order].tolist(), [channel_of[i] for i in index],
                     [payloads[i] for i in index], groups)
