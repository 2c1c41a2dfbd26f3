"""Safety events (uplinked `safety_event` telemetry)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row


async def list_events(conn: psycopg.AsyncConnection, *, site_id: str | None, robot_id: str | None,
                      since: dt.datetime | None, min_level: int | None, limit: int,
                      offset: int) -> list[dict[str, Any]]:
    """Safety-state transitions visible to the caller, newest first (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT robot_id, site_id, seq, ts, level, previous_level, authority, previous_authority, cause, payload "
        "FROM safety_events WHERE (%(site)s::text IS NULL OR site_id = %(site)s) "
        "AND (%(robot)s::text IS NULL OR robot_id = %(robot)s) AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s) "
        "AND (%(level)s::int IS NULL OR level >= %(level)s) ORDER BY ts DESC, robot_id, seq DESC "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {"site": site_id, "robot": robot_id, "since": since, "level": min_level, "limit": limit + 1,
         "offset": offset})
    return await cur.fetchall()
