"""Retention: telemetry day partitions older than N days go to Parquet (any fsspec URL), are catalogued, dropped;
queries over archived days read the Parquet files back."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import fsspec
import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from sigma_cloud.core.config import Settings
from sigma_cloud.core.partitions import live_days, partition_name
from sigma_cloud.core.payloads import safe_loads
from sigma_cloud.core.rows import one_row

SCHEMA = pa.schema([("robot_id", pa.string()), ("site_id", pa.string()), ("seq", pa.int64()),
                    ("ts", pa.timestamp("us", tz="UTC")), ("channel", pa.int16()), ("payload", pa.string()),
                    ("score", pa.float32()), ("received_at", pa.timestamp("us", tz="UTC"))])


def day_url(location: str, day: dt.date, stamp: str) -> str:
    """A fresh file name for one archive of `day`: archives are immutable, a re-archive never reuses a name."""
    return f"{location.rstrip('/')}/telemetry/day={day.isoformat()}/part-{stamp}.parquet"


def _new_stamp() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def _arrays(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)],
                                schema=SCHEMA)


def export_day(conn: psycopg.Connection, location: str, day: dt.date, previous_url: str | None = None,
               chunk: int = 50_000) -> tuple[str, int]:
    """Write one day partition to a NEW Parquet file (sorted by robot, seq), after the rows of `previous_url` (an
    earlier archive of the same day) if given; returns (url, rows). Never opens an existing file for writing."""
    url = day_url(location, day, _new_stamp())
    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    if fs.exists(path):
        raise RuntimeError(f"archive {url} already exists; refusing to overwrite it")
    rows = 0
    with fs.open(path, "wb") as handle, pq.ParquetWriter(handle, SCHEMA, compression="zstd") as writer:
        if previous_url is not None:
            old_fs, old_path = fsspec.core.url_to_fs(previous_url)
            table = pq.read_table(old_path, filesystem=old_fs, schema=SCHEMA)
            writer.write_table(table)
            rows += table.num_rows
        with conn.cursor(name="sigma_export") as cur:
            cur.execute(sql.SQL("SELECT robot_id, site_id, seq, ts, channel, payload::text, score, received_at "
                                "FROM {} ORDER BY robot_id, seq").format(sql.Identifier(partition_name(day))))
            while batch := cur.fetchmany(chunk):
                writer.write_table(_arrays(batch))
                rows += len(batch)
    return url, rows


def verify_archive(url: str) -> int:
    """Rows in an archive as read back from storage (footer and every row group)."""
    fs, path = fsspec.core.url_to_fs(url)
    with fs.open(path, "rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def archive_old_partitions(conn: psycopg.Connection, settings: Settings, today: dt.date) -> list[dt.date]:
    """Archive every day partition older than retention_days. Owner connection (autocommit). Returns the days.

    Write new, verify, then swap: the rows go to a new file (merged with the day's earlier archive, if any), the file
    is read back and its row count checked, and only then does one transaction point the catalog at it and drop
    the partition. An earlier archive is never overwritten or deleted.
    """
    cutoff = today - dt.timedelta(days=settings.retention_days)
    archived = []
    for day in live_days(conn):
        if day >= cutoff:
            continue
        with conn.transaction():
            # Lock the partition so no row arrives between the export and the drop.
            conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(partition_name(day))))
            count = one_row(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(partition_name(day)))).fetchone(), "count(*)")[0]
            previous = conn.execute("SELECT url, row_count FROM archive_catalog WHERE day = %s", (day,)).fetchone()
            previous_url, previous_rows = previous if previous else (None, 0)
            if count == 0 and previous_url is not None:
                url, rows = previous_url, previous_rows  # nothing new: keep the archive as it is
            else:
                url, rows = export_day(conn, settings.archive_location, day, previous_url)
                expected = previous_rows + count
                written = verify_archive(url)
                if rows != expected or written != expected:
                    raise RuntimeError(f"archive {url} of {day} holds {written} rows (wrote {rows}) but "
                                       f"{expected} were expected; partition kept, catalog unchanged")
            conn.execute("INSERT INTO archive_catalog (partition_name, day, url, row_count) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (partition_name) DO UPDATE SET url = excluded.url, "
                         "row_count = excluded.row_count, archived_at = now()", (partition_name(day), day, url, rows))
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition_name(day))))
            conn.execute("INSERT INTO audit_log (actor, action, target, detail, prev_hash, hash) "
                         "VALUES ('system:retention', 'retention.archive', %s, %s::jsonb, '', '')",
                         (partition_name(day), orjson.dumps({"url": url, "rows": rows,
                                                             "previous_url": previous_url}).decode()))
        archived.append(day)
    return archived


def read_archived(url: str, robot_id: str, start: dt.datetime, end: dt.datetime,
                  channel: int | None = None) -> list[dict[str, Any]]:
    """Rows of one archived day for a robot and time range (pyarrow predicate pushdown)."""
    fs, path = fsspec.core.url_to_fs(url)
    filters = [("robot_id", "=", robot_id), ("ts", ">=", start), ("ts", "<", end)]
    if channel is not None:
        filters.append(("channel", "=", channel))
    table = pq.read_table(path, filesystem=fs, filters=filters,
                          columns=["seq", "ts", "channel", "payload", "score"])
    return [{"seq": r["seq"], "ts": r["ts"], "channel": r["channel"], "payload": safe_loads(r["payload"]),
             "score": r["score"], "count": 1} for r in table.to_pylist()]


def downsample(rows: list[dict[str, Any]], bucket_s: float) -> list[dict[str, Any]]:
    """Per (bucket, channel): count, max score, last event's seq and payload; bucket start as ts. Pure."""
    buckets: dict[tuple[float, int], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["ts"], r["seq"])):
        epoch = row["ts"].timestamp()
        start = math.floor(epoch / bucket_s) * bucket_s
        key = (start, row["channel"])
        point = buckets.get(key)
        if point is None:
            buckets[key] = {"ts": dt.datetime.fromtimestamp(start, dt.timezone.utc), "channel": row["channel"],
                            "seq": row["seq"], "count": 1, "score": row["score"], "payload": row["payload"]}
        else:
            point.update(seq=row["seq"], payload=row["payload"], count=point["count"] + 1,
                         score=max(point["score"], row["score"]))
    return [buckets[k] for k in sorted(buckets)]
