"""Digital-twin health reports (views over telemetry channel twin_health, migration 0020) and site maintenance
policies. Every query runs under the caller's RLS."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from sigma_cloud.core.maintenance_plan import Policy

POLICY_FIELDS = ("lead_time_h", "duration_h", "max_out", "off_peak_start_hour", "off_peak_end_hour")
LATEST_SQL = ("SELECT robot_id, seq, extract(epoch FROM ts)::float8 AS ts, payload FROM twin_health_latest "
              "WHERE robot_id = %s")
HISTORY_SQL = ("SELECT robot_id, seq, extract(epoch FROM ts)::float8 AS ts, payload FROM twin_health_history "
               "WHERE robot_id = %(r)s AND (%(since)s::float8 IS NULL OR ts >= to_timestamp(%(since)s::float8)) "
               "AND (%(until)s::float8 IS NULL OR ts < to_timestamp(%(until)s::float8)) "
               "ORDER BY ts DESC, seq DESC LIMIT %(n)s OFFSET %(o)s")
POLICY_SQL = ("SELECT lead_time_h, duration_h, max_out, off_peak_start_hour, off_peak_end_hour "
              "FROM site_maintenance_policies WHERE site_id = %s")
SET_POLICY_SQL = (
    "INSERT INTO site_maintenance_policies (site_id, lead_time_h, duration_h, max_out, off_peak_start_hour, "
    "off_peak_end_hour, updated_by) VALUES (%(site_id)s, %(lead_time_h)s, %(duration_h)s, %(max_out)s, "
    "%(off_peak_start_hour)s, %(off_peak_end_hour)s, %(actor)s) ON CONFLICT (site_id) DO UPDATE SET "
    "lead_time_h = excluded.lead_time_h, duration_h = excluded.duration_h, max_out = excluded.max_out, "
    "off_peak_start_hour = excluded.off_peak_start_hour, off_peak_end_hour = excluded.off_peak_end_hour, "
    "updated_at = now(), updated_by = excluded.updated_by")


async def latest(conn: psycopg.AsyncConnection, *, robot_id: str) -> dict[str, Any] | None:
    """The robot's latest health report row (robot_id, seq, ts, payload), None when it has sent none (or is hidden)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(LATEST_SQL, (robot_id,))
    return await cur.fetchone()


async def history(conn: psycopg.AsyncConnection, *, robot_id: str, since: float | None, until: float | None,
                  limit: int, offset: int) -> list[dict[str, Any]]:
    """The robot's reports, newest first, in [since, until) (UNIX s), limit+1 rows for paging."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        HISTORY_SQL, {"r": robot_id, "since": since, "until": until, "n": limit + 1, "o": offset})
    return await cur.fetchall()


async def site_latest(conn: psycopg.AsyncConnection, *, site_id: str) -> list[dict[str, Any]]:
    """The latest report of every active robot of the site."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT h.robot_id, h.seq, extract(epoch FROM h.ts)::float8 AS ts, h.payload FROM twin_health_latest h "
        "JOIN robots r USING (robot_id) WHERE h.site_id = %s AND r.status = 'active' ORDER BY h.robot_id",
        (site_id,))
    return await cur.fetchall()


async def policy(conn: psycopg.AsyncConnection, *, site_id: str) -> tuple[Policy, bool]:
    """The site's maintenance policy and whether it was configured (False: the defaults)."""
    row = await (await conn.execute(POLICY_SQL, (site_id,))).fetchone()
    if row is None:
        return Policy(), False
    return Policy(**{k: (float(v) if k.endswith("_h") else int(v)) for k, v in zip(POLICY_FIELDS, row,
                                                                                 strict=True)}), True


async def set_policy(conn: psycopg.AsyncConnection, *, site_id: str, values: dict[str, Any], actor: str) -> None:
    """Create or replace the site's maintenance policy."""
    await conn.execute(
        SET_POLICY_SQL, {"site_id": site_id, "actor": actor, **values})
