"""Incident memory (pgvector): store signatures, read incidents, nearest neighbours under the caller's RLS."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sigma_cloud.cognition.signature import to_pgvector

NEAREST_SQL = (
    "SELECT * FROM (SELECT incident_id, robot_id, site_id, kind, extract(epoch FROM at)::float8 AS at, summary, "
    "outcome, resolution, EXISTS (SELECT 1 FROM incident_recordings r WHERE r.robot_id = incidents.robot_id "
    "AND r.name = incidents.recording AND r.completed_at IS NOT NULL) AS has_recording, created_at, "
    "(signature <=> %(v)s::vector)::float8 AS distance FROM incidents WHERE incident_id IS DISTINCT FROM %(ex)s "
    "ORDER BY signature <=> %(v)s::vector LIMIT %(k)s) n ORDER BY distance")
GET_SQL = ("SELECT incident_id, robot_id, site_id, kind, extract(epoch FROM at)::float8 AS at, summary, outcome, "
           "resolution, EXISTS (SELECT 1 FROM incident_recordings r WHERE r.robot_id = incidents.robot_id "
           "AND r.name = incidents.recording AND r.completed_at IS NOT NULL) AS has_recording, created_at "
           "FROM incidents WHERE incident_id = %s")
LIST_SQL = ("SELECT incident_id, robot_id, site_id, kind, extract(epoch FROM at)::float8 AS at, summary, outcome, "
            "resolution, EXISTS (SELECT 1 FROM incident_recordings r WHERE r.robot_id = incidents.robot_id "
            "AND r.name = incidents.recording AND r.completed_at IS NOT NULL) AS has_recording, created_at "
            "FROM incidents "
            "WHERE (%(r)s::text IS NULL OR robot_id = %(r)s) ORDER BY at DESC, incident_id "
            "LIMIT %(limit)s OFFSET %(offset)s")
RESOLVE_SQL = ("UPDATE incidents SET outcome = %s, resolution = %s, resolved_at = clock_timestamp() "
               "WHERE incident_id = %s RETURNING incident_id, "
               "robot_id, site_id, kind, extract(epoch FROM at)::float8 AS at, summary, outcome, resolution, "
               "EXISTS (SELECT 1 FROM incident_recordings r WHERE r.robot_id = incidents.robot_id "
               "AND r.name = incidents.recording AND r.completed_at IS NOT NULL) AS has_recording, created_at")


async def insert(conn: psycopg.AsyncConnection, *, robot_id: str, site_id: str, kind: str, at: float, summary: str,
                 signature: list[float], recording: str | None = None) -> uuid.UUID:
    """Store one incident with its signature and the name of its black-box recording (uploaded separately by the
    robot); returns its id."""
    incident_id = uuid.uuid4()
    await conn.execute("INSERT INTO incidents (incident_id, robot_id, site_id, kind, at, summary, signature, "
                       "recording) VALUES (%s, %s, %s, %s, to_timestamp(%s), %s, %s::vector, %s)",
                       (incident_id, robot_id, site_id, kind, at, summary[:2000], to_pgvector(signature), recording))
    return incident_id


async def nearest(conn: psycopg.AsyncConnection, *, signature: list[float], k: int,
                  exclude: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The k incidents closest (cosine distance) to a signature among those visible to the caller (HNSW index with
    iterative scan, so rows RLS hides do not leave the answer short)."""
    await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(NEAREST_SQL, {"v": to_pgvector(signature), "k": k, "ex": exclude})
    return await cur.fetchall()


async def signature_of(conn: psycopg.AsyncConnection, *, incident_id: uuid.UUID) -> list[float] | None:
    """An incident's stored signature (None when absent or hidden by RLS)."""
    row = await (await conn.execute("SELECT signature::text FROM incidents WHERE incident_id = %s",
                                    (incident_id,))).fetchone()
    return None if row is None else [float(v) for v in row[0].strip("[]").split(",")]


async def get(conn: psycopg.AsyncConnection, *, incident_id: uuid.UUID) -> dict[str, Any] | None:
    """One incident (None when absent or hidden by RLS)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(GET_SQL, (incident_id,))
    return await cur.fetchone()


async def list_incidents(conn: psycopg.AsyncConnection, *, robot_id: str | None, limit: int, offset: int
                         ) -> list[dict[str, Any]]:
    """Incidents visible to the caller, newest first (one more than `limit`)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(LIST_SQL, {"r": robot_id, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def resolve(conn: psycopg.AsyncConnection, *, incident_id: uuid.UUID, outcome: str, resolution: str
                  ) -> dict[str, Any] | None:
    """Record how an incident ended (None when absent or not writable by the caller)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(RESOLVE_SQL, (outcome, resolution, incident_id))
    return await cur.fetchone()
