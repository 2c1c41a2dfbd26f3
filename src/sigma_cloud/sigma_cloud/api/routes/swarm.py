"""Swarm mesh support (docs/swarm.md): the cloud-signed site roster robots fetch through their bridge, the roster
key for provisioning, and the leader changes robots report."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

import sigma_protocol as protocol
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, IngestDep, PoolDep
from sigma_cloud.api.models import ID_PATTERN
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.devices import DEVICE_HEADERS, as_problem, read_body, signed_path
from sigma_cloud.core.roster_signing import roster_key, signed_roster
from sigma_cloud.repositories import devices, rosters

router = APIRouter(prefix="/v1/sites", tags=["swarm"])
SiteId = Annotated[str, Path(pattern=ID_PATTERN)]


class SignedRoster(BaseModel):
    roster: str
    signature: str


class RosterKey(BaseModel):
    public_key: str


class SwarmLeader(BaseModel):
    term: int
    leader: str
    reported_by: str
    reported_at: dt.datetime


class SwarmLeaders(BaseModel):
    items: list[SwarmLeader]


async def _device(request: Request, ingest: IngestDep, pool: PoolDep, body: bytes) -> str:
    """Authenticate a signed device request and burn its nonce; returns the robot id."""
    try:
        robot_id = await ingest.authenticate(request.headers, request.method, signed_path(request), body,
                                             time.time())
    except protocol.ProtocolError as exc:
        raise as_problem(exc) from exc
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
    return robot_id


@router.get("/{site_id}/roster", response_model=SignedRoster, openapi_extra=DEVICE_HEADERS,
            responses=responses(401, 403, 409))
async def site_roster(request: Request, site_id: SiteId, ingest: IngestDep, pool: PoolDep) -> Response:
    """The site's active robots and their keys, signed with the cloud's roster key (device-signed request from an
    active robot of that site only)."""
    robot_id = await _device(request, ingest, pool, b"")
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        version, robots = await rosters.device_site_roster(conn, site_id=site_id)
    if not robots:
        raise ProblemError(403, "forbidden", f"robot {robot_id!r} is not an active robot of site {site_id!r}")
    document = signed_roster(roster_key(request.app.state.settings), site_id, version, robots, time.time())
    return Response(orjson.dumps(document), media_type="application/json")


@router.get("/{site_id}/roster/key", response_model=RosterKey, responses=responses(401))
async def site_roster_key(request: Request, site_id: SiteId, principal: CurrentPrincipal) -> RosterKey:
    """The public key robots verify rosters with (provision it as the swarm node's ``cloud_roster_key``)."""
    return RosterKey(public_key=protocol.b64encode(bytes(roster_key(request.app.state.settings).verify_key)))


@router.post("/{site_id}/swarm/leader", openapi_extra=DEVICE_HEADERS, responses=responses(400, 401, 403, 409))
async def report_leader(request: Request, site_id: SiteId, ingest: IngestDep, pool: PoolDep) -> Response:
    """A robot reports the leader it follows: body ``{"term": int, "leader": "robot id"}``; the first report of a
    term is kept. 200 ``{"recorded": true|false}``."""
    body = await read_body(request, 4096)
    robot_id = await _device(request, ingest, pool, body)
    try:
        data = orjson.loads(body)
        term, leader = data["term"], data["leader"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ProblemError(400, "malformed-report", 'body must be {"term": <int>, "leader": "<robot id>"}') from exc
    if not isinstance(term, int) or isinstance(term, bool) or not 0 <= term < 2**62 \
            or not isinstance(leader, str) or not protocol.ROBOT_ID_RE.match(leader):
        raise ProblemError(400, "malformed-report", "term must be an integer in [0, 2^62), leader a robot id")
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        version, _ = await rosters.device_site_roster(conn, site_id=site_id)
        if not version:
            raise ProblemError(403, "forbidden", f"robot {robot_id!r} is not an active robot of site {site_id!r}")
        recorded = await rosters.report_leader(conn, term=term, leader=leader)
    return Response(orjson.dumps({"recorded": recorded}), media_type="application/json")


@router.get("/{site_id}/swarm/leaders", response_model=SwarmLeaders, responses=responses(401))
async def site_leaders(site_id: SiteId, conn: DbDep,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> SwarmLeaders:
    """Leader of each recent term of the site, newest first (as reported by its robots)."""
    return SwarmLeaders(items=[SwarmLeader(**r) for r in await rosters.leaders(conn, site_id=site_id, limit=limit)])
