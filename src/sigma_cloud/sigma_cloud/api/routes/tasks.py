"""Fleet tasks (docs/tasks.md): the site's map, create / list / detail / cancel, and the leader's claim.

Validation and the state machine come from sigma_tasks (the same code the swarm leader runs); SQL lives in
repositories/tasks.py. A new task goes to the site's swarm leader as a decision (action `fleet_task`); robots report
progress on the `task_status` telemetry channel, which the database applies to the task (migration 0010).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status

import sigma_protocol as protocol
from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, IngestDep, PoolDep, require_role
from sigma_cloud.api.models import ID_PATTERN, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.devices import DEVICE_HEADERS, _authenticated, read_body
from sigma_cloud.api.task_models import (
    LeadershipClaim,
    LeadershipPublic,
    LeaderTaskOutcomeResult,
    LeaderTaskOutcomes,
    LeaderTaskOutcomesPublic,
    PlacesPublic,
    PlacesPut,
    TaskCancel,
    TaskCreate,
    TaskDetail,
    TaskPublic,
    TaskReportRefusalPublic,
    TasksPublic,
    TaskState,
    TaskTransitionPublic,
)
from sigma_cloud.core.db import Principal, transaction
from sigma_cloud.repositories import decisions, devices, sites
from sigma_cloud.repositories import tasks as repo
from sigma_tasks.model import Place, PlaceKind, SiteMap, TaskError, TaskKind, TaskSpec
from sigma_tasks.states import ALLOWED
from sigma_tasks.states import TaskState as CoreState

router = APIRouter(tags=["tasks"])
log = logging.getLogger(__name__)
SITE = "/v1/sites/{site_id}"
IDEMPOTENCY = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128,
                                          pattern=r"^[\x21-\x7e]+$",
                                          description="repeat a create safely: same key + same body = same task")]
DECISION_TTL_S = 600.0


async def _site(conn: Any, site_id: str) -> None:
    if not await sites.exists(conn, site_id=site_id):
        raise ProblemError(404, "not-found", f"site {site_id!r} not found (or not one of yours)")


@router.put(SITE + "/places", response_model=PlacesPublic, responses=responses(401, 403, 404, 422))
async def put_places(site_id: str, body: PlacesPut, pool: PoolDep, principal: CurrentPrincipal) -> PlacesPublic:
    """Register the site's map: its named places (docks, shelves, zones, waypoints), replacing the previous set."""
    require_role(principal, "fleet_admin", "site_manager")
    try:
        SiteMap.from_places(Place(p.name, PlaceKind(p.kind), p.x, p.y) for p in body.places)
    except TaskError as exc:
        raise ProblemError(422, "invalid-map", str(exc), errors=[{"field": exc.field, "message": str(exc)}]) from exc
    async with transaction(pool, principal) as conn:
        await _site(conn, site_id)
        await repo.replace_places(conn, site_id=site_id, places=[p.model_dump() for p in body.places])
        await audit(conn, principal, "site.places", site_id=site_id, target=site_id,
                    detail={"places": len(body.places)})
    return PlacesPublic(site_id=site_id, items=body.places)


@router.get(SITE + "/places", response_model=PlacesPublic, responses=responses(401, 404))
async def get_places(site_id: str, conn: DbDep) -> PlacesPublic:
    """The site's registered places."""
    await _site(conn, site_id)
    return PlacesPublic(site_id=site_id, items=await repo.places(conn, site_id=site_id))


def _fields(body: TaskCreate) -> dict[str, Any]:
    """The create body as the tasks table's columns (absent places and payload as None / 0)."""
    data = body.model_dump()
    return {"pickup": None, "dropoff": None, "place": None, "payload_kg": 0.0, **data}


def _spec(fields: dict[str, Any], now: float) -> TaskSpec:
    start = fields["earliest_start"].timestamp() if fields["earliest_start"] else now
    return TaskSpec(task_id="new", kind=TaskKind(fields["kind"]), pickup=fields["pickup"], dropoff=fields["dropoff"],
                    place=fields["place"], payload_kg=fields["payload_kg"], priority=fields["priority"],
                    earliest_start=start, deadline=fields["deadline"].timestamp() if fields["deadline"] else None)


def _detail(row: dict[str, Any], history: list[dict[str, Any]], sent_to: str | None = None,
            refused: Sequence[dict[str, Any]] = ()) -> TaskDetail:
    return TaskDetail(**row, history=[TaskTransitionPublic(**h) for h in history], sent_to_leader=sent_to,
                      refused_reports=[TaskReportRefusalPublic(**r) for r in refused])


async def _send(conn: Any, principal: Principal, *, robot_id: str, site_id: str, action: str,
                parameters: dict[str, str]) -> None:
    await decisions.insert(conn, robot_id=robot_id, site_id=site_id, source=2, confidence=1.0, action=action,
                           parameters=parameters, ttl_s=DECISION_TTL_S, created_by=principal.subject)


@router.post(SITE + "/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskDetail,
             responses=responses(401, 403, 404, 409, 422))
async def create_task(site_id: str, body: Annotated[TaskCreate, Body()], pool: PoolDep, principal: CurrentPrincipal,
                      response: Response, idempotency_key: IDEMPOTENCY = None) -> TaskDetail:
    """Create a task at a site (fleet admin or site manager). Its places must be on the site's map. It is queued and
    sent to the site's swarm leader when one is known; a repeat with the same Idempotency-Key answers the same task."""
    require_role(principal, "fleet_admin", "site_manager")
    fields = _fields(body)
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    async with transaction(pool, principal) as conn:
        await _site(conn, site_id)
        if idempotency_key is not None:
            earlier = await repo.by_idempotency_key(conn, site_id=site_id, key=idempotency_key)
            if earlier is not None:
                return await _replay(conn, earlier, request_hash, response)
        place_rows = await repo.places(conn, site_id=site_id)
        if not place_rows:
            raise ProblemError(409, "no-site-map", f"site {site_id!r} has no places registered; "
                               f"PUT /v1/sites/{site_id}/places first")
        site_map = SiteMap.from_places(Place(p["name"], PlaceKind(p["kind"]), p["x"], p["y"]) for p in place_rows)
        try:
            _spec(fields, time.time()).validate(site_map)
        except TaskError as exc:
            raise ProblemError(422, "invalid-task", str(exc),
                               errors=[{"field": exc.field, "message": str(exc)}]) from exc
        row = await repo.insert(conn, site_id=site_id, spec=fields, created_by=principal.subject,
                                idempotency_key=idempotency_key, request_hash=request_hash)
        if row is None:  # the same key won a race a moment ago
            earlier = await repo.by_idempotency_key(conn, site_id=site_id, key=str(idempotency_key))
            assert earlier is not None  # the conflicting row is committed or we would have waited for it
            return await _replay(conn, earlier, request_hash, response)
        lead = await repo.leader(conn, site_id=site_id)
        if lead is not None:
            await _send(conn, principal, robot_id=lead["robot_id"], site_id=site_id, action="fleet_task",
                        parameters=repo.decision_parameters(row))
        await audit(conn, principal, "task.create", site_id=site_id, target=str(row["task_id"]),
                    detail={"kind": row["kind"], "leader": lead["robot_id"] if lead else None})
        history = await repo.history(conn, task_id=row["task_id"])
    return _detail(row, history, lead["robot_id"] if lead else None)


async def _replay(conn: Any, earlier: dict[str, Any], request_hash: str, response: Response) -> TaskDetail:
    if earlier.pop("request_hash") != request_hash:
        raise ProblemError(409, "idempotency-key-reused",
                           "this Idempotency-Key was used for a different request; use a new key")
    response.status_code = status.HTTP_200_OK
    response.headers["Idempotent-Replayed"] = "true"
    return _detail(earlier, await repo.history(conn, task_id=earlier["task_id"]))


@router.get(SITE + "/tasks", response_model=TasksPublic, responses=responses(401, 404))
async def list_tasks(site_id: str, conn: DbDep, state: TaskState | None = None,
                     robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> TasksPublic:
    """A site's tasks, newest first, optionally by state or robot (fleet managers see robots' assignments here)."""
    await _site(conn, site_id)
    rows = await repo.list_tasks(conn, site_id=site_id, state=state, robot_id=robot_id, limit=limit, offset=offset)
    items, next_offset = page([TaskPublic(**r) for r in rows], limit, offset)
    return TasksPublic(items=items, next_offset=next_offset)


@router.get(SITE + "/tasks/{task_id}", response_model=TaskDetail, responses=responses(401, 404))
async def get_task(site_id: str, task_id: uuid.UUID, conn: DbDep) -> TaskDetail:
    """One task with its full history (every transition: from, to, when, who, why, robot, term)."""
    row = await repo.get(conn, site_id=site_id, task_id=task_id)
    if row is None:
        raise ProblemError(404, "not-found", f"task {task_id} not found at site {site_id!r} (or not one of yours)")
    return _detail(row, await repo.history(conn, task_id=task_id),
                   refused=await repo.refused_reports(conn, task_id=task_id))


@router.post(SITE + "/tasks/{task_id}/cancel", response_model=TaskDetail, responses=responses(401, 403, 404, 409))
async def cancel_task(site_id: str, task_id: uuid.UUID, body: TaskCancel, pool: PoolDep,
                      principal: CurrentPrincipal) -> TaskDetail:
    """Cancel a task that has not ended; the robot holding it and the leader are told through the downlink."""
    require_role(principal, "fleet_admin", "site_manager")
    async with transaction(pool, principal) as conn:
        row = await repo.get(conn, site_id=site_id, task_id=task_id, for_update=True)
        if row is None:
            raise ProblemError(404, "not-found", f"task {task_id} not found at site {site_id!r} (or not one of yours)")
        if CoreState.CANCELLED not in ALLOWED[CoreState(row["state"])]:
            raise ProblemError(409, "task-ended", f"task {task_id} is already {row['state']}; it cannot be cancelled")
        moved = await repo.move(conn, task=row, to_state="cancelled", actor=principal.subject, reason=body.reason)
        assert moved is not None  # the row is locked (repo.get for_update) in this transaction
        told = {r for r in (row["robot_id"],) if r}
        if row["robot_id"]:
            await _send(conn, principal, robot_id=row["robot_id"], site_id=site_id, action="cancel",
                        parameters={"task_id": str(task_id)})
        lead = await repo.leader(conn, site_id=site_id)
        if lead is not None:
            await _send(conn, principal, robot_id=lead["robot_id"], site_id=site_id, action="fleet_task_cancel",
                        parameters={"task_id": str(task_id), "reason": body.reason})
            told.add(lead["robot_id"])
        await audit(conn, principal, "task.cancel", site_id=site_id, target=str(task_id),
                    detail={"reason": body.reason, "told": sorted(told)})
        history = await repo.history(conn, task_id=task_id)
    return _detail(moved, history)


@router.post("/v1/devices/{robot_id}/leadership", openapi_extra=DEVICE_HEADERS, response_model=LeadershipPublic,
             responses=responses(400, 401, 403, 409))
async def claim_leadership(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep) -> LeadershipPublic:
    """A swarm leader (signed as its robot) records itself as its site's leader for a term and gets the site's open
    tasks to resume from; a claim older than the recorded term is answered with leader=false (fencing)."""
    body = await read_body(request, 4096)
    await _authenticated(request, ingest, robot_id, body)
    try:
        claim = LeadershipClaim.model_validate_json(body)
    except ValueError as exc:
        raise ProblemError(400, "malformed-claim", 'body must be {"term": <non-negative integer>}') from exc
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        leader = await repo.claim_leadership(conn, robot_id=robot_id, term=claim.term)
        rows = await repo.open_tasks_for_device(conn, robot_id=robot_id) if leader else []
    return LeadershipPublic(robot_id=robot_id, term=claim.term, leader=leader,
                            open_tasks=[TaskPublic(**r) for r in rows])


@router.post("/v1/devices/{robot_id}/leadership/tasks", openapi_extra=DEVICE_HEADERS,
             response_model=LeaderTaskOutcomesPublic, responses=responses(400, 401, 403, 409))
async def leader_task_outcomes(request: Request, robot_id: str, ingest: IngestDep,
                               pool: PoolDep) -> LeaderTaskOutcomesPublic:
    """The site's swarm leader (signed as its robot) reports what only it knows about queued tasks: why no robot can
    take one now (`waiting`), or that it failed one whose deadline passed (`failed`). Fenced by the term: a leader
    whose term is older than the site's current one, or that never claimed it, gets 409 (stale-term) and changes
    nothing."""
    body = await read_body(request, 64 * 1024)
    await _authenticated(request, ingest, robot_id, body)
    try:
        report = LeaderTaskOutcomes.model_validate_json(body)
    except ValueError as exc:
        raise ProblemError(400, "malformed-outcomes", 'body must be {"term": <int>, "tasks": [{"task_id", '
                           '"outcome": "failed"|"waiting", "reason"}] (1-100 tasks)}') from exc
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        try:
            results = [LeaderTaskOutcomeResult(task_id=t.task_id, result=await repo.leader_task_outcome(
                conn, robot_id=robot_id, term=report.term, task_id=t.task_id, outcome=t.outcome, reason=t.reason))
                for t in report.tasks]
        except repo.StaleTermError as exc:
            log.warning("leader task outcomes refused: robot %s term %s: %s", robot_id, report.term, exc)
            raise ProblemError(409, "stale-term", str(exc)) from exc
    return LeaderTaskOutcomesPublic(robot_id=robot_id, term=report.term, results=results)
