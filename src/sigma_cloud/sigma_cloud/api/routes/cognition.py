"""Fleet cognition, read side: why the Primary AI decided (explanation + evidence), a robot's session memory, and
the incident memory with its nearest-neighbour lookup (RLS per site, like every other route)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from sigma_cloud.api.audit import audit
from sigma_cloud.api.cognition_models import (
    CognitionActionPublic,
    CognitionActionsPublic,
    IncidentPublic,
    IncidentResolution,
    IncidentsPublic,
    SessionMemoryPublic,
    SimilarIncident,
    SimilarIncidentsPublic,
)
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.models import ID_PATTERN, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes import recordings
from sigma_cloud.core.db import transaction
from sigma_cloud.repositories import cognition, incidents

router = APIRouter(tags=["cognition"])


@router.get("/v1/decisions/{decision_id}/explanation", response_model=CognitionActionPublic,
            responses=responses(401, 404))
async def decision_explanation(decision_id: uuid.UUID, conn: DbDep) -> CognitionActionPublic:
    """Why the Primary AI made this decision: rule, confidence, explanation and the evidence it read."""
    row = await cognition.action_of_decision(conn, decision_id=decision_id)
    if row is None:
        raise ProblemError(404, "not-found", f"decision {decision_id} was not made by the Primary AI "
                                             "(or is not in your sites)")
    return CognitionActionPublic(**row)


@router.get("/v1/cognition/actions", response_model=CognitionActionsPublic, responses=responses(401))
async def list_actions(conn: DbDep, robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> CognitionActionsPublic:
    """Everything the Primary AI did (decisions and fleet actions), newest first, with explanations."""
    rows = await cognition.list_actions(conn, robot_id=robot_id, limit=limit, offset=offset)
    items, next_offset = page([CognitionActionPublic(**r) for r in rows], limit, offset)
    return CognitionActionsPublic(items=items, next_offset=next_offset)


@router.get("/v1/cognition/robots/{robot_id}/memory", response_model=SessionMemoryPublic,
            responses=responses(401, 404))
async def robot_memory(robot_id: str, conn: DbDep) -> SessionMemoryPublic:
    """The robot's session memory as the decisions read it."""
    row = await cognition.memory_of(conn, robot_id=robot_id)
    if row is None:
        raise ProblemError(404, "not-found", f"no cognition memory for robot {robot_id!r} (or not in your sites)")
    return SessionMemoryPublic(**row)


@router.get("/v1/incidents", response_model=IncidentsPublic, responses=responses(401))
async def list_incidents(conn: DbDep, robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> IncidentsPublic:
    """Incidents (safety incidents and anomaly windows) visible to the caller, newest first."""
    rows = await incidents.list_incidents(conn, robot_id=robot_id, limit=limit, offset=offset)
    items, next_offset = page([IncidentPublic(**r) for r in rows], limit, offset)
    return IncidentsPublic(items=items, next_offset=next_offset)


@router.get("/v1/incidents/{incident_id}", response_model=IncidentPublic, responses=responses(401, 404))
async def get_incident(incident_id: uuid.UUID, conn: DbDep) -> IncidentPublic:
    """One incident with its outcome and resolution."""
    row = await incidents.get(conn, incident_id=incident_id)
    if row is None:
        raise ProblemError(404, "not-found", f"incident {incident_id} not found (or not in your sites)")
    return IncidentPublic(**row)


@router.get("/v1/incidents/{incident_id}/similar", response_model=SimilarIncidentsPublic,
            responses=responses(401, 404))
async def similar_incidents(incident_id: uuid.UUID, conn: DbDep,
                            k: Annotated[int, Query(ge=1, le=100)] = 10) -> SimilarIncidentsPublic:
    """"Seen before?": the k incidents whose telemetry signatures are nearest (cosine, HNSW), among those the
    caller may see, with how they ended."""
    sig = await incidents.signature_of(conn, incident_id=incident_id)
    if sig is None:
        raise ProblemError(404, "not-found", f"incident {incident_id} not found (or not in your sites)")
    rows = await incidents.nearest(conn, signature=sig, k=k, exclude=incident_id)
    return SimilarIncidentsPublic(incident_id=incident_id, items=[SimilarIncident(**r) for r in rows])


@router.post("/v1/incidents/{incident_id}/resolution", response_model=IncidentPublic,
             responses=responses(401, 403, 404))
async def resolve_incident(incident_id: uuid.UUID, body: IncidentResolution, pool: PoolDep,
                           principal: CurrentPrincipal) -> IncidentPublic:
    """Record how an incident ended (fleet admin or the site's manager); later decisions read it as memory."""
    require_role(principal, "fleet_admin", "site_manager")
    async with transaction(pool, principal) as conn:
        row = await incidents.resolve(conn, incident_id=incident_id, outcome=body.outcome,
                                      resolution=body.resolution)
        if row is None:
            raise ProblemError(404, "not-found", f"incident {incident_id} not found (or not in your sites)")
        await audit(conn, principal, "incident.resolve", site_id=row["site_id"], target=str(incident_id),
                    detail={"outcome": body.outcome})
    return IncidentPublic(**row)


router.include_router(recordings.router)  # the incident recordings (upload by robots, download by people)
