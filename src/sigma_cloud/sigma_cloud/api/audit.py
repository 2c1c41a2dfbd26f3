"""Append to the hash-chained audit log inside the caller's transaction."""

from __future__ import annotations

from typing import Any

import psycopg

from sigma_cloud.core.db import Principal
from sigma_cloud.repositories import audit as audit_log


async def audit(conn: psycopg.AsyncConnection, principal: Principal, action: str, *, site_id: str | None,
                target: str, detail: dict[str, Any] | None = None) -> None:
    """Record that ``principal`` did ``action`` (in its own transaction, so it commits or rolls back with it)."""
    await audit_log.append(conn, actor=principal.subject, action=action, site_id=site_id, target=target,
                           detail=detail)
