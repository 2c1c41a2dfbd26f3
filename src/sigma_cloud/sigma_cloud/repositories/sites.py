"""Sites and the per-site fleet summary."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

SUMMARY_SQL = """
    SELECT %(site)s AS site_id,
      (SELECT count(*) FROM robots WHERE site_id = %(site)s) AS robots_total,
      (SELECT count(*) FROM robots WHERE site_id = %(site)s AND status = 'active') AS robots_active,
      (SELECT count(*) FROM robot_ingest_state s JOIN robots r USING (robot_id) WHERE r.site_id = %(site)s
         AND r.status = 'active' AND s.last_seen > now() - interval '5 minutes') AS robots_reporting,
      (SELECT coalesce(sum(events_total), 0) FROM robot_ingest_state WHERE site_id = %(site)s) AS events_total,
      (SELECT count(*) FROM safety_events WHERE site_id = %(site)s AND ts > now() - interval '24 hours')
         AS safety_events_24h,
      (SELECT count(*) FROM decisions WHERE site_id = %(site)s AND status = 'pending' AND deadline > now())
         AS pending_decisions,
      (SELECT max(score) FROM robot_latest WHERE site_id = %(site)s) AS max_recent_score
"""


async def insert(conn: psycopg.AsyncConnection, *, site_id: str, name: str) -> dict[str, Any]:
    """Create a site; raises UniqueViolation when it exists."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("INSERT INTO sites (site_id, name) VALUES (%s, %s) RETURNING *", (site_id, name))
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row
    return row


async def list_sites(conn: psycopg.AsyncConnection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Sites visible to the caller by id (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM sites ORDER BY site_id LIMIT %s OFFSET %s", (limit + 1, offset))
    return await cur.fetchall()


async def exists(conn: psycopg.AsyncConnection, *, site_id: str) -> bool:
    """Whether the caller can see the site."""
    return await (await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,))).fetchone() is not None


async def summary(conn: psycopg.AsyncConnection, *, site_id: str) -> dict[str, Any]:
    """Robots, reporting robots, events, safety events (24 h), pending decisions and the highest recent score."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(SUMMARY_SQL, {"site": site_id})
    row = await cur.fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return row
