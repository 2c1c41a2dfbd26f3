"""Sites and the per-site fleet summary."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, status

from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.models import SiteCreate, SitePublic, SitesPublic, SiteSummary, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.core.db import transaction
from sigma_cloud.repositories import sites

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SitePublic, responses=responses(401, 403, 409))
async def create_site(body: SiteCreate, pool: PoolDep, principal: CurrentPrincipal) -> SitePublic:
    """Create a site (fleet admins only)."""
    require_role(principal, "fleet_admin")
    try:
        async with transaction(pool, principal) as conn:
            row = await sites.insert(conn, site_id=body.site_id, name=body.name)
            await audit(conn, principal, "site.create", site_id=body.site_id, target=body.site_id)
    except psycopg.errors.UniqueViolation as exc:
        raise ProblemError(409, "conflict", f"site {body.site_id!r} already exists") from exc
    return SitePublic(**row)


@router.get("", response_model=SitesPublic, responses=responses(401))
async def list_sites(conn: DbDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> SitesPublic:
    """Sites visible to the caller."""
    rows = await sites.list_sites(conn, limit=limit, offset=offset)
    items, next_offset = page([SitePublic(**r) for r in rows], limit, offset)
    return SitesPublic(items=items, next_offset=next_offset)


@router.get("/{site_id}/summary", response_model=SiteSummary, responses=responses(401, 404))
async def site_summary(site_id: str, conn: DbDep) -> SiteSummary:
    """Fleet summary of one site: robots, reporting, events, safety events (24 h), pending decisions, max score."""
    if not await sites.exists(conn, site_id=site_id):
        raise ProblemError(404, "not-found", f"site {site_id!r} not found (or not one of yours)")
    return SiteSummary(**await sites.summary(conn, site_id=site_id))
