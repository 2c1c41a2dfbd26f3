"""Append to the hash-chained audit log inside the caller's transaction."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from sigma_cloud.core.db import Principal


async def audit(conn: psycopg.AsyncConnection, principal: Principal, action: str, *, site_id: str | None,
                target: str, detail: dict[str, Any] | None = None) -> None:
    await conn.execute("INSERT INTO audit_log (actor, action, site_id, target, detail, prev_hash, hash) "
                       "VALUES (%s, %s, %s, %s, %s::jsonb, '', '')",
                       (principal.subject, action, site_id, target, orjson.dumps(detail or {}).decode()))
