"""Retention: telemetry day partitions older than N days go to Parquet (any fsspec URL), are catalogued, dropped;
queries over archived days read the Parquet files back."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import fsspec
import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from sigma_cloud.core.config import Settings
from sigma_cloud.core.partitions import live_days, partition_name

SCHEMA = pa.schema([("robot_id", pa.string()), ("site_id", pa.string()), ("seq", pa.int64()),
                    ("ts", pa.timestamp("us", tz="UTC")), ("channel", pa.int16()), ("payload", pa.string()),
                    ("score", pa.float32()), ("received_at", pa.timestamp("us", tz="UTC"))])


def day_url(location: str, day: dt.date) -> str:
    return f"{location.rstrip('/')}/telemetry/day={day.isoformat()}/part-0.parquet"


def export_day(conn: psycopg.Connection, location: str, day: dt.date, chunk: int = 50_000) -> tuple[str, int]:
    """Write one day partition to Parquet (sorted by robot, seq); returns (url, rows)."""
    url = day_url(location, day)
    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    rows = 0
    with fs.open(path, "wb") as handle, pq.ParquetWriter(handle, SCHEMA, compression="zstd") as writer, \
            conn.cursor(name="sigma_export") as cur:
        cur.execute(sql.SQL("SELECT robot_id, site_id, seq, ts, channel, payload::text, score, received_at FROM {} "
                            "ORDER BY robot_id, seq").format(sql.Identifier(partition_name(day))))
        while batch := cur.fetchmany(chunk):
            columns = list(zip(*batch, strict=True))
            writer.write_table(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA,
                                                                                              strict=True)],
                                                    schema=SCHEMA))
            rows += len(batch)
    return url, rows


def archive_old_partitions(conn: psycopg.Connection, settings: Settings, today: dt.date) -> list[dt.date]:
    """Archive every day partition older than retention_days. Owner connection (autocommit). Returns the days."""
    cutoff = today - dt.timedelta(days=settings.retention_days)
    archived = []
    for day in live_days(conn):
        if day >= cutoff:
            continue
        with conn.transaction():
            url, rows = export_day(conn, settings.archive_location, day)
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(partition_name(day)))).fetchone()[0]
            if count != rows:
                raise RuntimeError(f"archive of {day} wrote {rows} rows but the partition holds {count}; not dropped")
            conn.execute("INSERT INTO archive_catalog (partition_name, day, url, row_count) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (partition_name) DO UPDATE SET url = excluded.url, "
                         "row_count = excluded.row_count, archived_at = now()", (partition_name(day), day, url, rows))
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition_name(day))))
            conn.execute("INSERT INTO audit_log (actor, action, target, detail, prev_hash, hash) "
                         "VALUES ('system:retention', 'retention.archive', %s, %s::jsonb, '', '')",
                         (partition_name(day), orjson.dumps({"url": url, "rows": rows}).decode()))
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
    return [{"seq": r["seq"], "ts": r["ts"], "channel": r["channel"], "payload": orjson.loads(r["payload"]),
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
