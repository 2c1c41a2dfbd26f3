"""Robots: registration, listing, status, decommissioning, latest state per channel."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

ROBOT_SELECT = ("SELECT r.robot_id, r.site_id, r.model, r.public_key, r.status, r.registered_at, r.decommissioned_at, "
                "coalesce(s.last_seq, 0) AS last_seq, s.last_seen, coalesce(s.events_total, 0) AS events_total "
                "FROM robots r LEFT JOIN robot_ingest_state s USING (robot_id)")


async def get(conn: psycopg.AsyncConnection, *, robot_id: str) -> dict[str, Any] | None:
    """The robot with its ingest status, or None when it does not exist or RLS hides it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(ROBOT_SELECT + " WHERE r.robot_id = %s", (robot_id,))
    return await cur.fetchone()


async def insert(conn: psycopg.AsyncConnection, *, robot_id: str, site_id: str, model: str,
                 public_key: str) -> None:
    """Register a robot and its (empty) ingest state. Raises UniqueViolation / ForeignKeyViolation as psycopg does."""
    await conn.execute("INSERT INTO robots (robot_id, site_id, model, public_key) VALUES (%s, %s, %s, %s)",
                       (robot_id, site_id, model, public_key))
    await conn.execute("INSERT INTO robot_ingest_state (robot_id, site_id) VALUES (%s, %s)", (robot_id, site_id))


async def site_of(conn: psycopg.AsyncConnection, *, robot_id: str) -> str | None:
    """The site of a robot the caller can see (None otherwise)."""
    row = await (await conn.execute("SELECT site_id FROM robots WHERE robot_id = %s", (robot_id,))).fetchone()
    return None if row is None else str(row[0])


async def list_robots(conn: psycopg.AsyncConnection, *, site_id: str | None, status: str | None, limit: int,
                      offset: int) -> list[dict[str, Any]]:
    """Robots visible to the caller by id (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(ROBOT_SELECT + " WHERE (%(site)s::text IS NULL OR r.site_id = %(site)s) "
                      "AND (%(status)s::text IS NULL OR r.status = %(status)s) ORDER BY r.robot_id "
                      "LIMIT %(limit)s OFFSET %(offset)s",
                      {"site": site_id, "status": status, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def decommission(conn: psycopg.AsyncConnection, *, robot_id: str) -> None:
    """Mark the robot decommissioned (the first time stamps it); its device requests are refused from now on."""
    await conn.execute("UPDATE robots SET status = 'decommissioned', decommissioned_at = coalesce("
                       "decommissioned_at, now()) WHERE robot_id = %s", (robot_id,))


async def latest(conn: psycopg.AsyncConnection, *, robot_id: str) -> list[tuple[Any, ...]]:
    """(channel id, seq, ts, payload, score) of the newest event of every channel."""
    cur = await conn.execute("SELECT channel, seq, ts, payload, score FROM robot_latest WHERE robot_id = %s "
                             "ORDER BY channel", (robot_id,))
    return await cur.fetchall()
