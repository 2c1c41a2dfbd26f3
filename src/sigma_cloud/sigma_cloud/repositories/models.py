"""Federated learning's SQL: robots' model updates and the fleet model versions."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row


async def add_update(conn: psycopg.AsyncConnection, *, robot_id: str, base_version: int, model: dict[str, Any]
                     ) -> int:
    """Store a robot's validated update (as that robot: RLS checks it is its own)."""
    row = await (await conn.execute(
        "INSERT INTO model_updates (robot_id, site_id, base_version, model) "
        "SELECT robot_id, site_id, %s, %s::jsonb FROM robots WHERE robot_id = %s RETURNING update_id",
        (base_version, orjson.dumps(model).decode(), robot_id))).fetchone()
    assert row is not None
    return int(row[0])


async def latest_updates(conn: psycopg.AsyncConnection, *, since: Any) -> list[dict[str, Any]]:
    """The newest update of each active robot received after `since` (None: all)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT DISTINCT ON (u.robot_id) u.robot_id, u.model FROM model_updates u JOIN robots r USING (robot_id) "
        "WHERE r.status = 'active' AND (%s::timestamptz IS NULL OR u.received_at > %s) "
        "ORDER BY u.robot_id, u.update_id DESC", (since, since))
    return await cur.fetchall()


async def current(conn: psycopg.AsyncConnection) -> dict[str, Any] | None:
    """The newest fleet model version (None before the first round)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM model_versions ORDER BY version DESC LIMIT 1")
    return await cur.fetchone()


async def add_version(conn: psycopg.AsyncConnection, *, version: int, model: dict[str, Any], robots: list[str],
                      robust: dict[str, bool], created_by: str) -> dict[str, Any]:
    """Store a new fleet model version."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("INSERT INTO model_versions (version, model, robots, robust, created_by) "
                      "VALUES (%s, %s::jsonb, %s, %s::jsonb, %s) RETURNING *",
                      (version, orjson.dumps(model).decode(), robots, orjson.dumps(robust).decode(), created_by))
    row = await cur.fetchone()
    assert row is not None
    return row


async def add_adoption(conn: psycopg.AsyncConnection, *, robot_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """Store a robot's adoption verdict for a fleet model version (as that robot: RLS checks it is its own)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO model_adoptions (robot_id, site_id, version, previous_version, adopted, reason, local_accuracy, "
        "candidate_accuracy, samples) SELECT robot_id, site_id, %(version)s, %(previous_version)s, %(adopted)s, "
        "%(reason)s, %(local_accuracy)s, %(candidate_accuracy)s, %(samples)s FROM robots WHERE robot_id = %(r)s "
        "RETURNING adoption_id, robot_id, site_id, version, previous_version, adopted, reason, local_accuracy, "
        "candidate_accuracy, samples, reported_at", {**report, "r": robot_id})
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_adoptions(conn: psycopg.AsyncConnection, *, version: int | None, robot_id: str | None, limit: int,
                         offset: int) -> list[dict[str, Any]]:
    """Adoption reports visible to the caller, newest first (one more than `limit`)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT adoption_id, robot_id, site_id, version, previous_version, adopted, reason, local_accuracy, "
        "candidate_accuracy, samples, reported_at FROM model_adoptions "
        "WHERE (%(v)s::int IS NULL OR version = %(v)s) AND (%(r)s::text IS NULL OR robot_id = %(r)s) "
        "ORDER BY adoption_id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {"v": version, "r": robot_id, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def version_exists(conn: psycopg.AsyncConnection, *, version: int) -> bool:
    """Whether a fleet model version was published."""
    return await (await conn.execute("SELECT 1 FROM model_versions WHERE version = %s", (version,))).fetchone() \
        is not None
