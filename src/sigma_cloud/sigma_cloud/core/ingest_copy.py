"""Binary COPY rows for the ingest fast path (migration 0071): a prepared batch as PostgreSQL's binary COPY format.

Columns, in this order: seq int8, ts timestamptz, channel int2, score float4, payload jsonb (robot_id and site_id
come from the day partition's defaults, i.e. the transaction's device identity). The fixed-width part of every row
is one numpy record (no per-value Python); the payload is the JSON exactly as the robot sent it (jsonb binary input
is a version byte and the JSON text, so nothing is escaped or re-encoded).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator, Sequence

import numpy as np

COLUMNS = "(seq, ts, channel, score, payload)"
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
POSTGRES_EPOCH_S = 946_684_800.0  # 2000-01-01T00:00:00Z, the zero of PostgreSQL's binary timestamps
JSONB_VERSION = 1
ROW_PREFIX = np.dtype([("fields", ">i2"), ("seq_len", ">i4"), ("seq", ">i8"), ("ts_len", ">i4"), ("ts", ">i8"),
                       ("channel_len", ">i4"), ("channel", ">i2"), ("score_len", ">i4"), ("score", ">f4"),
                       ("payload_len", ">i4"), ("jsonb_version", "u1")])


def timestamp_us(ts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Microseconds since 2000-01-01 UTC, rounded like PostgreSQL's to_timestamp(double precision)."""
    return np.rint((np.asarray(ts, dtype=np.float64) - POSTGRES_EPOCH_S) * 1e6).astype(np.int64)


def copy_data(seqs: Sequence[int], ts_us: np.ndarray, channels: np.ndarray, scores: np.ndarray,
              payloads: Sequence[bytes]) -> bytes:
    """One binary COPY stream (header, rows, trailer) of the given rows."""
    n = len(payloads)
    prefix = np.empty(n, dtype=ROW_PREFIX)
    prefix["fields"] = 5
    prefix["seq_len"], prefix["ts_len"], prefix["channel_len"], prefix["score_len"] = 8, 8, 2, 4
    prefix["seq"] = seqs
    prefix["ts"] = ts_us
    prefix["channel"] = channels
    prefix["score"] = scores
    prefix["payload_len"] = [len(p) + 1 for p in payloads]
    prefix["jsonb_version"] = JSONB_VERSION
    view = memoryview(prefix.tobytes())
    width = ROW_PREFIX.itemsize
    parts: list[bytes | memoryview] = [HEADER]
    for i, payload in enumerate(payloads):
        parts.append(view[i * width:(i + 1) * width])
        parts.append(payload)
    parts.append(TRAILER)
    return b"".join(parts)


def by_day(seqs: Sequence[int], ts: Sequence[float], channels: np.ndarray, scores: np.ndarray,
           payloads: Sequence[bytes]) -> Iterator[tuple[dt.date, bytes]]:
    """(UTC day, COPY stream of that day's rows) for each day the rows fall on (one, but for a backlog at midnight)."""
    ts_us = timestamp_us(ts)
    days = ts_us // 86_400_000_000
    first, last = int(days.min()), int(days.max())
    epoch = dt.date(2000, 1, 1)
    if first == last:
        yield epoch + dt.timedelta(days=first), copy_data(seqs, ts_us, channels, scores, payloads)
        return
    for day in range(first, last + 1):
        where = np.nonzero(days == day)[0]
        if where.size:
            rows = where.tolist()
            yield epoch + dt.timedelta(days=day), copy_data(
                [seqs[i] for i in rows], ts_us[where], channels[where], scores[where], [payloads[i] for i in rows])
