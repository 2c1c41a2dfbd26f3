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
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from psycopg.abc import PQGen
    from psycopg.pq.abc import PGconn, PGresult

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
    prefix["payload_len"] = np.fromiter(map(len, payloads), dtype=np.int32, count=n) + 1
    prefix["jsonb_version"] = JSONB_VERSION
    # Rows interleaved in C: each record as one bytes object (numpy's fixed-width bytes view; its .tolist() drops
    # trailing NUL bytes only, and every record ends with the jsonb version byte 1), then prefix, payload, prefix...
    parts: list[bytes] = [HEADER] * (2 * n + 2)
    parts[1:-1:2] = prefix.view(f"S{ROW_PREFIX.itemsize}").tolist()
    parts[2:-1:2] = payloads
    parts[-1] = TRAILER
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


# --- Two round trips per batch (round 7): statements and COPY in one simple query --------------------------------
# psycopg refuses a COPY in a pipeline and a COPY mixed with other statements, so the fast path used four round trips
# (pipeline; COPY start; COPY data; COMMIT). PostgreSQL itself runs a multi-statement simple query as one implicit
# transaction and a COPY FROM STDIN inside it as any other statement: the results before the COPY come back with its
# CopyInResponse, and the transaction commits when the query string ends after CopyDone. So a batch is one query
# (identity; ingest_once; role; COPY) and one CopyData + CopyDone, driven here at the libpq level. A simple query
# carries no parameters: the few values are SQL literals (standard_conforming_strings on: a quote is doubled, nothing
# else is special; a NUL byte cannot be sent, and callers fall back to the parameterized path then).

def literal(value: bytes) -> bytes:
    """A string literal of UTF-8 bytes (standard_conforming_strings must be on)."""
    return b"'" + value.replace(b"'", b"''") + b"'"


def int_array_literal(values: Sequence[int] | np.ndarray, cast: bytes) -> bytes:
    return b"'{" + b",".join(b"%d" % v for v in np.asarray(values, dtype=np.int64).tolist()) + b"}'::" + cast


def float_array_literal(values: Sequence[float] | np.ndarray, cast: bytes) -> bytes:
    """repr of the float64 value: exact for float8 and for a float32 widened to float64 (float4in rounds back)."""
    return (b"'{" + ",".join(map(repr, np.asarray(values, dtype=np.float64).tolist())).encode() + b"}'::" + cast)


def text_array_literal(values: Sequence[bytes]) -> bytes:
    if not values:
        return b"'{}'::text[]"
    return b"ARRAY[" + b",".join(map(literal, values)) + b"]::text[]"


COPY_CHUNK = 128 * 1024  # what psycopg's own COPY writer hands libpq at once (larger chunks get slower, psycopg #255)


def copy_exchange_start(pgconn: PGconn, query: bytes) -> PQGen[list[PGresult]]:
    """Generator (for `AsyncConnection.wait`): send `query` and fetch its results up to the COPY's CopyInResponse
    (or to its end when a statement failed: the implicit transaction is then rolled back)."""
    from psycopg import generators

    pgconn.send_query(query)
    yield from generators.send(pgconn)
    return (yield from generators.fetch_many(pgconn))


def copy_exchange_finish(pgconn: PGconn, data: bytes, error: bytes | None = None) -> PQGen[list[PGresult]]:
    """Generator (for `AsyncConnection.wait`): the COPY's data and CopyDone -- or CopyFail with `error` (nothing is
    written, the implicit transaction is rolled back) -- then the rest of the query's results."""
    from psycopg import generators

    if error is None:
        view = memoryview(data)
        for start in range(0, len(view), COPY_CHUNK):
            while pgconn.put_copy_data(view[start:start + COPY_CHUNK]) == 0:
                while not (yield generators.WAIT_W):
                    continue
    while pgconn.put_copy_end(error) == 0:
        while not (yield generators.WAIT_W):
            continue
    yield from generators.send(pgconn)  # flush
    return (yield from generators.fetch_many(pgconn))
