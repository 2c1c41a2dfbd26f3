"""Sites and the per-site fleet summary."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, status
from psycopg.rows import dict_row

from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.models import SiteCreate, SitePublic, SitesPublic, SiteSummary, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.core.db import transaction

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SitePublic, responses=responses(401, 403, 409))
async def create_site(body: SiteCreate, pool: PoolDep, principal: CurrentPrincipal) -> SitePublic:
    """Create a site (fleet admins only)."""
    require_role(principal, "fleet_admin")
    try:
        async with transaction(pool, principal) as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = await (await cur.execute("INSERT INTO sites (site_id, name) VALUES (%s, %s) RETURNING *",
                                           (body.site_id, body.name))).fetchone()
            await audit(conn, principal, "site.create", site_id=body.site_id, target=body.site_id)
    except psycopg.errors.UniqueViolation as exc:
        raise ProblemError(409, "conflict", f"site {body.site_id!r} already exists") from exc
    return SitePublic(**row)


@router.get("", response_model=SitesPublic, responses=responses(401))
async def list_sites(conn: DbDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> SitesPublic:
    """Sites visible to the caller."""
    cur = conn.cursor(row_factory=dict_row)
    rows = await (await cur.execute("SELECT * FROM sites ORDER BY site_id LIMIT %s OFFSET %s",
                                    (limit + 1, offset))).fetchall()
    items, next_offset = page([SitePublic(**r) for r in rows], limit, offset)
    return SitesPublic(items=items, next_offset=next_offset)


@router.get("/{site_id}/summary", response_model=SiteSummary, responses=responses(401, 404))
async def site_summary(site_id: str, conn: DbDep) -> SiteSummary:
    """Fleet summary of one site: robots, reporting, events, safety events (24 h), pending decisions, max score."""
    if await (await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,))).fetchone() is None:
        raise ProblemError(404, "not-found", f"site {site_id!r} not found (or not one of yours)")
    cur = conn.cursor(row_factory=dict_row)
    row = await (await cur.execute("""
        SELECT %(site)s AS site_id,
          (SELECT count(*) FROM robots WHERE site_id = %(site)s) AS robots_total,
          (SELECT count(*) FROM robots WHERE site_id = %(site)s AND status = 'active') AS robots_active,
          (SELECT count(*) FROM robot_ingest_state s JOIN robots r USING (robot_id) WHERE r.site_id = %(site)s
             AND r.status = 'active' AND s.last_seen > now() - interval '5 minutes') AS robots_reporting,
          (SELECT coalesce(sum(events_total), 0) FROM robot_ingest_state WHERE site_id = %(site)s) AS events_total,
          (SELECT count(*) FROM safety_events WHERE site_id = %(site)s AND ts > now() - interval '24 hours')
             AS safety_events_24h,
          (SELECT count(*) FROM decisions WHERE site_id = %(site)s AND status = 'pending' AND deadline > now())
             AS pending_decisions,
          (SELECT max(score) FROM robot_latest WHERE site_id = %(site)s) AS max_recent_score
        """, {"site": site_id})).fetchone()
    return SiteSummary(**row)
