"""The drift gate's SQL: its one state row (with the cursor over incident resolutions) and the labelled inputs."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row


async def lock_state(conn: psycopg.AsyncConnection, *, initial: dict[str, Any]) -> dict[str, Any]:
    """The gate's row, created with `initial` state on first use, locked for this transaction."""
    await conn.execute("INSERT INTO model_gate (state) VALUES (%s::jsonb) ON CONFLICT DO NOTHING",
                       (orjson.dumps(initial).decode(),))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT state, cursor_at, cursor_id FROM model_gate FOR UPDATE")
    row = await cur.fetchone()
    assert row is not None
    return row


async def save_state(conn: psycopg.AsyncConnection, *, state: dict[str, Any], cursor_at: Any, cursor_id: Any
                     ) -> None:
    await conn.execute("UPDATE model_gate SET state = %s::jsonb, cursor_at = %s, cursor_id = %s, updated_at = now()",
                       (orjson.dumps(state).decode(), cursor_at, cursor_id))


async def read_state(conn: psycopg.AsyncConnection) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT state, cursor_at, updated_at FROM model_gate")
    return await cur.fetchone()


async def resolved_after(conn: psycopg.AsyncConnection, *, cursor_at: Any, cursor_id: Any, limit: int = 1000
                         ) -> list[dict[str, Any]]:
    """Incidents resolved after the cursor, oldest first: (incident_id, resolved_at, outcome, signature)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT incident_id, resolved_at, outcome, signature::text AS signature FROM incidents "
        "WHERE resolved_at IS NOT NULL AND (resolved_at, incident_id) > (%s, coalesce(%s, "
        "'00000000-0000-0000-0000-000000000000'::uuid)) ORDER BY resolved_at, incident_id LIMIT %s",
        (cursor_at, cursor_id, limit))
    return await cur.fetchall()


async def version_models(conn: psycopg.AsyncConnection, *, versions: list[int]) -> dict[int, dict[str, Any]]:
    rows = await (await conn.execute("SELECT version, model FROM model_versions WHERE version = ANY(%s)",
                                     (versions,))).fetchall()
    return {int(v): m for v, m in rows}


async def newest_version(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM model_versions")).fetchone()
    return int(row[0]) if row else 0
