"""Decisions addressed to robots (fleet side): create, list, get. Robots fetch and ack them via /v1/devices."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.models import ID_PATTERN, DecisionCreate, DecisionPublic, DecisionsPublic, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.robots import fetch_robot
from sigma_cloud.core.db import transaction
from sigma_cloud.repositories import decisions

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DecisionPublic,
             responses=responses(401, 403, 404, 409))
async def create_decision(body: DecisionCreate, pool: PoolDep, principal: CurrentPrincipal) -> DecisionPublic:
    """Address a decision to a robot (fleet admin or site manager); delivered until its deadline."""
    require_role(principal, "fleet_admin", "site_manager")
    async with transaction(pool, principal) as conn:
        robot = await fetch_robot(conn, body.robot_id)
        if robot.status != "active":
            raise ProblemError(409, "decommissioned", f"robot {body.robot_id!r} is decommissioned")
        row = await decisions.insert(conn, robot_id=body.robot_id, site_id=robot.site_id, source=body.source,
                                     confidence=body.confidence, action=body.action, parameters=body.parameters,
                                     ttl_s=body.ttl_s, created_by=principal.subject)
        await audit(conn, principal, "decision.create", site_id=robot.site_id, target=str(row["decision_id"]),
                    detail={"robot_id": body.robot_id, "action": body.action})
    return DecisionPublic(**row)


@router.get("", response_model=DecisionsPublic, responses=responses(401))
async def list_decisions(conn: DbDep, robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                         status_filter: Annotated[Literal["pending", "applied", "rejected", "expired"] | None,
                                                  Query(alias="status")] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> DecisionsPublic:
    """Decisions visible to the caller, newest first."""
    rows = await decisions.list_decisions(conn, robot_id=robot_id, status=status_filter, limit=limit, offset=offset)
    items, next_offset = page([DecisionPublic(**r) for r in rows], limit, offset)
    return DecisionsPublic(items=items, next_offset=next_offset)


@router.get("/{decision_id}", response_model=DecisionPublic, responses=responses(401, 404))
async def get_decision(decision_id: uuid.UUID, conn: DbDep) -> DecisionPublic:
    """One decision with its acknowledgement status."""
    row = await decisions.get(conn, decision_id=decision_id)
    if row is None:
        raise ProblemError(404, "not-found", f"decision {decision_id} not found (or not in your sites)")
    return DecisionPublic(**row)
