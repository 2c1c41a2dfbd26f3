"""Retention of robot logs (docs/logs.md): day partitions of robot_logs older than the retention window are dropped
(logs are not archived to Parquet like telemetry; an incident's logs outlive it only in an export)."""

from __future__ import annotations

import datetime as dt
import re

import psycopg
from psycopg import sql

PARTITION_RE = re.compile(r"^robot_logs_(\d{8})$")


def drop_old_log_partitions(conn: psycopg.Connection, keep_days: int, today: dt.date) -> list[dt.date]:
    """As the schema owner: drop the robot_logs day partitions before `today - keep_days`; returns their days."""
    cutoff = today - dt.timedelta(days=keep_days)
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'robot_logs'::regclass").fetchall()
    dropped = []
    for (name,) in rows:
        m = PARTITION_RE.match(name)
        if not m:
            continue
        day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        if day < cutoff:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
            dropped.append(day)
    return sorted(dropped)
