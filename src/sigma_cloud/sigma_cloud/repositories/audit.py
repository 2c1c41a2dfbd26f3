"""The hash-chained audit log: append inside the caller's transaction, list, verify the chain."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row


async def append(conn: psycopg.AsyncConnection, *, actor: str, action: str, site_id: str | None, target: str,
                 detail: dict[str, Any] | None = None) -> None:
    """Append one entry; the database computes the chain hash (trigger)."""
    await conn.execute("INSERT INTO audit_log (actor, action, site_id, target, detail, prev_hash, hash) "
                       "VALUES (%s, %s, %s, %s, %s::jsonb, '', '')",
                       (actor, action, site_id, target, orjson.dumps(detail or {}).decode()))


async def list_entries(conn: psycopg.AsyncConnection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Entries visible to the caller, newest first (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT id, at, actor, action, site_id, target, detail, encode(hash, 'hex') AS hash "
                      "FROM audit_log ORDER BY id DESC LIMIT %s OFFSET %s", (limit + 1, offset))
    return await cur.fetchall()


async def chain_intact(conn: psycopg.AsyncConnection) -> bool:
    """True when audit_verify() finds no broken link (and the chain tip matches audit_head)."""
    row = await (await conn.execute("SELECT audit_verify()")).fetchone()
    return row is not None and row[0] is None
