"""Digital-twin health of robots and site maintenance plans (docs/twin.md). Reports come from the robots' twin/health
over the twin_health telemetry channel; the plan is computed on request by the pure planner
(sigma_cloud.core.maintenance_plan) from every robot's latest report and the site's policy."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Query

from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, require_role
from sigma_cloud.api.models import page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.twin_models import (
    HealthReportPublic,
    MaintenancePlanPublic,
    MaintenancePolicy,
    MaintenanceWindowPublic,
    RobotHealthPublic,
    UnplacedPublic,
)
from sigma_cloud.core import maintenance_plan, twin_health
from sigma_cloud.repositories import robots, sites
from sigma_cloud.repositories import twin_health as health_repo

router = APIRouter(tags=["twin"])
Seconds = Annotated[float | None, Query(ge=0, le=1e11, description="UNIX s")]


def _report(row: dict) -> HealthReportPublic:
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    return HealthReportPublic(seq=row["seq"], **twin_health.report(row["robot_id"], row["ts"], payload))


@router.get("/v1/robots/{robot_id}/health", response_model=RobotHealthPublic, responses=responses(401, 404, 422))
async def robot_health(robot_id: str, conn: DbDep, since: Seconds = None, until: Seconds = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RobotHealthPublic:
    """The robot's latest digital-twin health report and its history (newest first, paged)."""
    if await robots.get(conn, robot_id=robot_id) is None:
        raise ProblemError(404, "not-found", f"robot {robot_id!r} not found (or not in your sites)")
    latest = await health_repo.latest(conn, robot_id=robot_id)
    rows = await health_repo.history(conn, robot_id=robot_id, since=since, until=until, limit=limit, offset=offset)
    items, next_offset = page([_report(r) for r in rows], limit, offset)
    return RobotHealthPublic(robot_id=robot_id, latest=_report(latest) if latest else None, history=items,
                             next_offset=next_offset)


async def _site(conn: DbDep, site_id: str) -> None:
    if not await sites.exists(conn, site_id=site_id):
        raise ProblemError(404, "not-found", f"site {site_id!r} not found (or not one of yours)")


@router.get("/v1/sites/{site_id}/maintenance", response_model=MaintenancePlanPublic, responses=responses(401, 404))
async def site_maintenance(site_id: str, conn: DbDep) -> MaintenancePlanPublic:
    """The site's maintenance plan: one window per robot the twin flags, before its predicted limit by the lead
    time, at most max_out robots out at once, off-peak first, earliest deadline first; robots that fit nowhere are
    listed with the reason."""
    await _site(conn, site_id)
    policy, configured = await health_repo.policy(conn, site_id=site_id)
    rows = await health_repo.site_latest(conn, site_id=site_id)
    needs = [n for r in rows if isinstance(r["payload"], dict)
             for n in twin_health.needs(r["robot_id"], r["ts"], r["payload"])]
    now = time.time()
    result = maintenance_plan.plan(needs, policy, now)
    source = {r["robot_id"]: {"report_seq": r["seq"], "report_ts": r["ts"]} for r in rows}  # the report used
    return MaintenancePlanPublic(
        site_id=site_id, generated_at=now, policy_configured=configured,
        policy=MaintenancePolicy(**{k: getattr(policy, k) for k in health_repo.POLICY_FIELDS}),
        windows=[MaintenanceWindowPublic(**dataclasses.asdict(w), **source[w.robot_id])
                 for w in result.windows],
        infeasible=[UnplacedPublic(**dataclasses.asdict(u), **source[u.robot_id])
                    for u in result.infeasible], robots_reporting=len(rows))


@router.put("/v1/sites/{site_id}/maintenance/policy", response_model=MaintenancePolicy,
            responses=responses(401, 403, 404, 422))
async def put_maintenance_policy(site_id: str, body: MaintenancePolicy, conn: DbDep,
                                 principal: CurrentPrincipal) -> MaintenancePolicy:
    """Set the site's maintenance policy (fleet admin, or site manager of the site)."""
    require_role(principal, "fleet_admin", "site_manager")
    await _site(conn, site_id)
    await health_repo.set_policy(conn, site_id=site_id, values=body.model_dump(), actor=principal.subject)
    await audit(conn, principal, "site.maintenance_policy", site_id=site_id, target=site_id, detail=body.model_dump())
    return body
