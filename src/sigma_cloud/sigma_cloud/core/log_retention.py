"""Retention of logs (docs/logs.md): day partitions of robot_logs (the robots' records) and service_logs (the cloud's
own, migration 0063) older than the retention window are dropped (logs are not archived to Parquet like telemetry;
an incident's logs outlive it only in an export)."""

from __future__ import annotations

import datetime as dt
import re

import psycopg
from psycopg import sql

LOG_TABLES = ("robot_logs", "service_logs")
PARTITION_RE = re.compile(r"^(?:robot_logs|service_logs)_(\d{8})$")


def drop_old_log_partitions(conn: psycopg.Connection, keep_days: int, today: dt.date) -> list[dt.date]:
    """As the schema owner: drop the day partitions of every log table before `today - keep_days`; returns their
    days (each once)."""
    cutoff = today - dt.timedelta(days=keep_days)
    dropped: set[dt.date] = set()
    for table in LOG_TABLES:
        rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = %s::regclass", (table,)).fetchall()
        for (name,) in rows:
            m = PARTITION_RE.match(name)
            if not m:
                continue
            day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
            if day < cutoff:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                dropped.add(day)
    return sorted(dropped)
