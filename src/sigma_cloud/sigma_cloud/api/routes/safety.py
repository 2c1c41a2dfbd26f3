"""Safety events (uplinked `safety_event` telemetry) and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from sigma_cloud.api.deps import CurrentPrincipal, DbDep
from sigma_cloud.api.models import ID_PATTERN, AuditEntry, AuditPublic, SafetyEventPublic, SafetyEventsPublic, page
from sigma_cloud.api.problems import responses
from sigma_cloud.repositories import audit as audit_log
from sigma_cloud.repositories import safety

router = APIRouter(prefix="/v1", tags=["safety", "audit"])


@router.get("/safety-events", response_model=SafetyEventsPublic, responses=responses(401))
async def list_safety_events(conn: DbDep, site_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                             robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                             since: dt.datetime | None = None,
                             min_level: Annotated[int | None, Query(ge=0, le=255)] = None,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                             offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> SafetyEventsPublic:
    """Safety-state transitions visible to the caller, newest first."""
    rows = await safety.list_events(conn, site_id=site_id, robot_id=robot_id, since=since, min_level=min_level,
                                    limit=limit, offset=offset)
    items, next_offset = page([SafetyEventPublic(**r) for r in rows], limit, offset)
    return SafetyEventsPublic(items=items, next_offset=next_offset)


@router.get("/audit", response_model=AuditPublic, responses=responses(401))
async def list_audit(conn: DbDep, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AuditPublic:
    """Audit entries visible to the caller, newest first; fleet admins also get the chain verification."""
    rows = await audit_log.list_entries(conn, limit=limit, offset=offset)
    intact = await audit_log.chain_intact(conn) if principal.role == "fleet_admin" else None
    items, next_offset = page([AuditEntry(**r) for r in rows], limit, offset)
    return AuditPublic(items=items, next_offset=next_offset, chain_intact=intact)
