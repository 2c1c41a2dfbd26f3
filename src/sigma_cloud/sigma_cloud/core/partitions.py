"""Telemetry partition management: daily range partitions, each hash-partitioned by robot_id, created ahead."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from sigma_cloud.core.config import Settings
from sigma_cloud.core.rows import one_row


def partition_name(day: dt.date) -> str:
    return f"telemetry_p{day:%Y%m%d}"


def create_day(conn: psycopg.Connection, day: dt.date, hash_partitions: int) -> bool:
    """Create the partition for one UTC day (and its hash sub-partitions). Returns False if it already existed."""
    name = partition_name(day)
    if one_row(conn.execute("SELECT to_regclass(%s)", (name,)).fetchone(), "to_regclass")[0] is not None:
        return False
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    end = start + dt.timedelta(days=1)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF telemetry FOR VALUES FROM ({}) TO ({}) "
                             "PARTITION BY HASH (robot_id)").format(
            sql.Identifier(name), sql.Literal(start.isoformat()), sql.Literal(end.isoformat())))
        for remainder in range(hash_partitions):
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES WITH (MODULUS {}, REMAINDER {})").format(
                sql.Identifier(f"{name}_h{remainder}"), sql.Identifier(name), sql.Literal(hash_partitions),
                sql.Literal(remainder)))
        # robot_id/site_id defaults from the device identity + sigma_ingest's COPY grant (migration 0071)
        conn.execute("SELECT telemetry_partition_for_ingest(%s::regclass)", (name,))
    return True


def live_days(conn: psycopg.Connection) -> list[dt.date]:
    """Days that currently have a telemetry partition."""
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'telemetry'::regclass").fetchall()
    return sorted(dt.datetime.strptime(r[0][len("telemetry_p"):], "%Y%m%d").date() for r in rows)


def ensure_partitions(conn: psycopg.Connection, settings: Settings, today: dt.date | None = None) -> list[str]:
    """Partitions for every day events may be accepted for: [today - max age, today + days ahead]."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    back = int(settings.max_event_age_s // 86400) + 1
    created = []
    for offset in range(-back, settings.partitions_ahead_days + 1):
        day = today + dt.timedelta(days=offset)
        if create_day(conn, day, settings.telemetry_hash_partitions):
            created.append(partition_name(day))
    return created


def purge_nonces(conn: psycopg.Connection, older_than_s: float) -> int:
    """Forget nonces older than the signature window (a request that old is refused as stale anyway)."""
    cur = conn.execute("DELETE FROM ingest_nonces WHERE seen_at < now() - make_interval(secs => %s)", (older_than_s,))
    return cur.rowcount
