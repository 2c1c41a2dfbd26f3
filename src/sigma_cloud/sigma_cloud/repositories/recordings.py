"""Incident recordings' SQL: resumable chunked uploads by robots, the completed file's location, lookups."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}\.mcap"  # a recording's name (as migration 0042 checks)


async def open_upload(conn: psycopg.AsyncConnection, *, robot_id: str, name: str, size: int, sha256: str
                      ) -> dict[str, Any]:
    """The robot's upload of `name` (created on first use with its declared size and digest), row-locked."""
    await conn.execute(
        "INSERT INTO incident_recordings (robot_id, site_id, name, size, sha256) "
        "SELECT robot_id, site_id, %s, %s, %s FROM robots WHERE robot_id = %s ON CONFLICT DO NOTHING",
        (name, size, sha256, robot_id))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT robot_id, site_id, name, size, sha256, received, location, completed_at "
                      "FROM incident_recordings WHERE robot_id = %s AND name = %s "
                      "FOR UPDATE", (robot_id, name))
    row = await cur.fetchone()
    assert row is not None  # the robot exists (it signed the request) and RLS lets it see its own row
    return row


async def add_chunk(conn: psycopg.AsyncConnection, *, robot_id: str, name: str, offset: int, data: bytes) -> int:
    """Store one chunk at `offset` (the upload's current end); returns the new received count."""
    await conn.execute('INSERT INTO incident_recording_chunks (robot_id, name, "offset", data) VALUES (%s, %s, %s, %s)',
                       (robot_id, name, offset, data))
    row = await (await conn.execute(
        "UPDATE incident_recordings SET received = received + %s WHERE robot_id = %s AND name = %s "
        "RETURNING received", (len(data), robot_id, name))).fetchone()
    assert row is not None
    return int(row[0])


async def chunks(conn: psycopg.AsyncConnection, *, robot_id: str, name: str) -> list[bytes]:
    """The upload's chunks in order."""
    rows = await (await conn.execute(
        'SELECT data FROM incident_recording_chunks WHERE robot_id = %s AND name = %s ORDER BY "offset"',
        (robot_id, name))).fetchall()
    return [bytes(r[0]) for r in rows]


async def restart(conn: psycopg.AsyncConnection, *, robot_id: str, name: str) -> None:
    """Drop what was received (the assembled file did not match its digest): the robot sends it again."""
    await conn.execute("DELETE FROM incident_recording_chunks WHERE robot_id = %s AND name = %s", (robot_id, name))
    await conn.execute("UPDATE incident_recordings SET received = 0 WHERE robot_id = %s AND name = %s",
                       (robot_id, name))


async def complete(conn: psycopg.AsyncConnection, *, robot_id: str, name: str, location: str) -> None:
    """Mark the upload complete at `location` and drop its chunks."""
    await conn.execute("DELETE FROM incident_recording_chunks WHERE robot_id = %s AND name = %s", (robot_id, name))
    await conn.execute("UPDATE incident_recordings SET location = %s, completed_at = now() "
                       "WHERE robot_id = %s AND name = %s", (location, robot_id, name))


async def of_incident(conn: psycopg.AsyncConnection, *, incident_id: Any) -> dict[str, Any] | None:
    """The incident (visible to the caller) with its recording's name and, once uploaded, the upload row;
    None when the incident is absent or hidden."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT i.incident_id, i.robot_id, i.recording, r.size, r.sha256, r.received, r.location, r.completed_at "
        "FROM incidents i LEFT JOIN incident_recordings r ON r.robot_id = i.robot_id AND r.name = i.recording "
        "WHERE i.incident_id = %s", (incident_id,))
    return await cur.fetchone()
