"""Safety events (uplinked `safety_event` telemetry) and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from psycopg.rows import dict_row

from sigma_cloud.api.deps import CurrentPrincipal, DbDep
from sigma_cloud.api.models import ID_PATTERN, AuditEntry, AuditPublic, SafetyEventPublic, SafetyEventsPublic, page
from sigma_cloud.api.problems import responses

router = APIRouter(prefix="/v1", tags=["safety", "audit"])


@router.get("/safety-events", response_model=SafetyEventsPublic, responses=responses(401))
async def list_safety_events(conn: DbDep, site_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                             robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                             since: dt.datetime | None = None,
                             min_level: Annotated[int | None, Query(ge=0, le=255)] = None,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                             offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> SafetyEventsPublic:
    """Safety-state transitions visible to the caller, newest first."""
    cur = conn.cursor(row_factory=dict_row)
    rows = await (await cur.execute(
        "SELECT robot_id, site_id, seq, ts, level, previous_level, authority, previous_authority, cause, payload "
        "FROM safety_events WHERE (%(site)s::text IS NULL OR site_id = %(site)s) "
        "AND (%(robot)s::text IS NULL OR robot_id = %(robot)s) AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s) "
        "AND (%(level)s::int IS NULL OR level >= %(level)s) ORDER BY ts DESC, robot_id, seq DESC "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {"site": site_id, "robot": robot_id, "since": since, "level": min_level, "limit": limit + 1,
         "offset": offset})).fetchall()
    items, next_offset = page([SafetyEventPublic(**r) for r in rows], limit, offset)
    return SafetyEventsPublic(items=items, next_offset=next_offset)


@router.get("/audit", response_model=AuditPublic, responses=responses(401))
async def list_audit(conn: DbDep, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AuditPublic:
    """Audit entries visible to the caller, newest first; fleet admins also get the chain verification."""
    cur = conn.cursor(row_factory=dict_row)
    rows = await (await cur.execute("SELECT id, at, actor, action, site_id, target, detail, "
                                    "encode(hash, 'hex') AS hash FROM audit_log ORDER BY id DESC LIMIT %s OFFSET %s",
                                    (limit + 1, offset))).fetchall()
    intact = None
    if principal.role == "fleet_admin":
        intact = (await (await conn.execute("SELECT audit_verify()")).fetchone())[0] is None
    items, next_offset = page([AuditEntry(**r) for r in rows], limit, offset)
    return AuditPublic(items=items, next_offset=next_offset, chain_intact=intact)
