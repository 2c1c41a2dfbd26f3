"""Federated learning over HTTP: robots upload their local anomaly model's parameters and fetch the fleet model
(Ed25519-signed device requests); a fleet admin runs an aggregation round. docs/cognition.md."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

import sigma_protocol as protocol
from sigma_cloud.api.audit import audit
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, IngestDep, PoolDep, require_role
from sigma_cloud.api.models import ID_PATTERN, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.devices import DEVICE_HEADERS, as_problem, read_body, signed_path
from sigma_cloud.cognition import federated
from sigma_cloud.core.db import transaction
from sigma_cloud.repositories import devices, models
from sigma_cloud.repositories import gate as gate_repo

router = APIRouter(tags=["federated"])
MAX_UPDATE_BYTES = 256 * 1024


class ModelVersionPublic(BaseModel):
    version: int
    robots: list[str]
    robust: dict[str, bool]
    created_by: str
    created_at: dt.datetime
    model: dict[str, Any]


class AdoptionReport(BaseModel):
    """A robot's verdict on a fleet model version after its shadow check (sigma_bridge.model_adoption)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1, le=2**31 - 1)
    previous_version: int = Field(ge=0, le=2**31 - 1)
    adopted: bool
    reason: str = Field(max_length=1000, pattern=r"^[^\x00]*$")
    local_accuracy: float = Field(ge=0, le=1)
    candidate_accuracy: float = Field(ge=0, le=1)
    samples: int = Field(ge=0, le=10_000_000)


class AdoptionPublic(AdoptionReport):
    model_config = ConfigDict(extra="forbid")
    adoption_id: int
    robot_id: str
    site_id: str
    reported_at: dt.datetime


class AdoptionsPublic(BaseModel):
    items: list[AdoptionPublic]
    next_offset: int | None = None


async def _device(request: Request, ingest: Any, robot_id: str, body: bytes) -> None:
    try:
        signer = await ingest.authenticate(request.headers, request.method, signed_path(request), body, time.time())
    except protocol.ProtocolError as exc:
        raise as_problem(exc) from exc
    if signer != robot_id:
        raise ProblemError(403, "robot-mismatch", f"signed by {signer!r} but addressed to {robot_id!r}")


@router.post("/v1/devices/{robot_id}/model-update", openapi_extra=DEVICE_HEADERS,
             responses=responses(400, 401, 403, 409, 413, 422))
async def upload_update(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep) -> Response:
    """A robot's local model parameters ({"base_version", "model": {"dim", "classes"}}); refused with the reason
    when malformed or out of bounds (such a model is never stored, so no aggregation round sees it)."""
    body = await read_body(request, MAX_UPDATE_BYTES)
    await _device(request, ingest, robot_id, body)
    try:
        data = orjson.loads(body)
        base_version = data["base_version"]
        model = federated.from_json(data["model"], federated.FLEET_DIM)
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ProblemError(400, "malformed-update", 'body must be {"base_version": int, "model": {...}}') from exc
    except federated.UpdateRefusedError as exc:
        raise ProblemError(422, "update-refused", str(exc)) from exc
    if not isinstance(base_version, int) or isinstance(base_version, bool) or base_version < 0:
        raise ProblemError(400, "malformed-update", "base_version must be a non-negative integer")
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        update_id = await models.add_update(conn, robot_id=robot_id, base_version=base_version,
                                            model=federated.to_json(model))
    return Response(orjson.dumps({"update_id": update_id}), media_type="application/json")


@router.get("/v1/devices/{robot_id}/model", openapi_extra=DEVICE_HEADERS, responses=responses(401, 403, 404, 409))
async def fetch_model(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep) -> Response:
    """The newest fleet model, for the robot's shadow check before adoption."""
    await _device(request, ingest, robot_id, b"")
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        row = await models.current(conn)
    if row is None:
        raise ProblemError(404, "not-found", "no fleet model yet (no aggregation round has run)")
    return Response(orjson.dumps({"version": row["version"], "model": row["model"]}), media_type="application/json")


@router.post("/v1/models/aggregate", response_model=ModelVersionPublic, status_code=201,
             responses=responses(401, 403, 409))
async def aggregate(pool: PoolDep, principal: CurrentPrincipal) -> ModelVersionPublic:
    """One aggregation round (fleet admin): the newest update of each robot since the last version -> a new
    version (sample-weighted trimmed mean per coordinate), audited."""
    require_role(principal, "fleet_admin")
    async with transaction(pool, principal) as conn:
        previous = await models.current(conn)
        rows = await models.latest_updates(conn, since=previous["created_at"] if previous else None)
        if len(rows) < 2:
            raise ProblemError(409, "too-few-updates", f"{len(rows)} robot update(s) since the last round; need 2")
        try:
            fleet = federated.aggregate([federated.from_json(r["model"], federated.FLEET_DIM) for r in rows],
                                        version=(previous["version"] if previous else 0) + 1)
        except federated.UpdateRefusedError as exc:  # stored updates were validated; a schema change could do it
            raise ProblemError(409, "update-refused", str(exc)) from exc
        robots = [r["robot_id"] for r in rows]
        row = await models.add_version(conn, version=fleet.version, model=federated.to_json(fleet), robots=robots,
                                       robust=fleet.robust, created_by=principal.subject)
        await audit(conn, principal, "model.aggregate", site_id=None, target=f"v{fleet.version}",
                    detail={"robots": robots, "robust": fleet.robust})
    return ModelVersionPublic(**row)


@router.get("/v1/models/current", response_model=ModelVersionPublic, responses=responses(401, 404))
async def current_model(conn: DbDep) -> ModelVersionPublic:
    """The newest fleet model version with the robots it came from."""
    row = await models.current(conn)
    if row is None:
        raise ProblemError(404, "not-found", "no fleet model yet (no aggregation round has run)")
    return ModelVersionPublic(**row)


@router.post("/v1/devices/{robot_id}/model-adoption", openapi_extra=DEVICE_HEADERS, response_model=AdoptionPublic,
             status_code=201, responses=responses(400, 401, 403, 409, 413, 422))
async def report_adoption(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep) -> AdoptionPublic:
    """The robot's shadow-check verdict on a fleet model version (adopted or not, why, the figures); append-only."""
    body = await read_body(request, 16 * 1024)
    await _device(request, ingest, robot_id, body)
    try:
        report = AdoptionReport.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ProblemError(422, "adoption-refused", f"{where}: {first['msg']}") from exc
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        if not await models.version_exists(conn, version=report.version):
            raise ProblemError(422, "adoption-refused", f"version: fleet model v{report.version} was never published")
        row = await models.add_adoption(conn, robot_id=robot_id, report=report.model_dump())
    return AdoptionPublic(**row)


@router.get("/v1/models/adoptions", response_model=AdoptionsPublic, responses=responses(401))
async def list_adoptions(conn: DbDep, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                         robot_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AdoptionsPublic:
    """Which robots adopted or refused which fleet model version, with their shadow-check figures (RLS per site)."""
    rows = await models.list_adoptions(conn, version=version, robot_id=robot_id, limit=limit, offset=offset)
    items, next_offset = page([AdoptionPublic(**r) for r in rows], limit, offset)
    return AdoptionsPublic(items=items, next_offset=next_offset)


class GatePublic(BaseModel):
    live: str
    candidate: str | None
    samples: int = Field(description="resolved incidents both models scored since the candidate was proposed")
    live_correct: int
    candidate_correct: int
    previous: str | None
    previous_quality: float | None
    considered: int = Field(description="newest fleet model version the gate has taken up")
    updated_at: dt.datetime


@router.get("/v1/models/gate", response_model=GatePublic, responses=responses(401, 404))
async def model_gate(conn: DbDep) -> GatePublic:
    """The drift gate on live traffic: the fleet model in use, the candidate in shadow and their scores so far."""
    row = await gate_repo.read_state(conn)
    if row is None:
        raise ProblemError(404, "not-found", "the drift gate has not run yet (the cognition worker runs it)")
    gate = row["state"].get("gate", {})
    return GatePublic(live=gate.get("live", "v0"), candidate=gate.get("candidate"), samples=gate.get("samples", 0),
                      live_correct=gate.get("live_correct", 0), candidate_correct=gate.get("candidate_correct", 0),
                      previous=gate.get("previous"), previous_quality=gate.get("previous_quality"),
                      considered=row["state"].get("considered", 0), updated_at=row["updated_at"])
