"""Site rosters and reported swarm leaders (migration 0030)."""

from __future__ import annotations

from typing import Any

import psycopg


async def device_site_roster(conn: psycopg.AsyncConnection, *, site_id: str) -> tuple[int, list[tuple[str, str]]]:
    """(version, [(robot_id, public_key)]) of the calling device's own site; (0, []) if it may not see ``site_id``."""
    cur = await conn.execute("SELECT version, robot_id, public_key FROM device_site_roster(%s)", (site_id,))
    rows = await cur.fetchall()
    if not rows:
        return 0, []
    return int(rows[0][0]), [(r[1], r[2]) for r in rows]


async def report_leader(conn: psycopg.AsyncConnection, *, term: int, leader: str) -> bool:
    """Record the leader of a term for the calling device's site; False if refused or already known."""
    cur = await conn.execute("SELECT device_report_leader(%s, %s)", (term, leader))
    row = await cur.fetchone()
    return bool(row and row[0])


async def leaders(conn: psycopg.AsyncConnection, *, site_id: str, limit: int) -> list[dict[str, Any]]:
    """The most recent leader terms of a site, newest first (RLS: only sites the caller may see)."""
    cur = await conn.execute(
        "SELECT term, leader, reported_by, reported_at FROM swarm_leaders WHERE site_id = %s "
        "ORDER BY term DESC LIMIT %s", (site_id, limit))
    return [{"term": r[0], "leader": r[1], "reported_by": r[2], "reported_at": r[3]} for r in await cur.fetchall()]
