"""Robots: register (with public key), list, status, decommission, latest state."""

from __future__ import annotations

from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query, status

import sigma_protocol as protocol
from sigma_cloud.api.audit import audit
from sigma_cloud.api.db_errors import problem_for
from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.models import ID_PATTERN, LatestChannel, RobotCreate, RobotLatest, RobotPublic, RobotsPublic, page
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.core.db import transaction
from sigma_cloud.repositories import robots

router = APIRouter(prefix="/v1/robots", tags=["robots"])
CHANNEL_NAMES = {i: name for name, i in protocol.CHANNEL_IDS.items()}

RobotId = Annotated[str, Query(pattern=ID_PATTERN)]


async def fetch_robot(conn: psycopg.AsyncConnection, robot_id: str) -> RobotPublic:
    """The robot as the caller may see it; 404 when it does not exist or is outside the caller's sites."""
    row = await robots.get(conn, robot_id=robot_id)
    if row is None:
        raise ProblemError(404, "not-found", f"robot {robot_id!r} not found (or not in your sites)")
    return RobotPublic(**row)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RobotPublic,
             responses=responses(401, 403, 404, 409, 422))
async def register_robot(body: RobotCreate, pool: PoolDep, principal: CurrentPrincipal) -> RobotPublic:
    """Register a robot with its Ed25519 public key (fleet admin, or site manager of its site)."""
    require_role(principal, "fleet_admin", "site_manager")
    try:
        async with transaction(pool, principal) as conn:
            await robots.insert(conn, robot_id=body.robot_id, site_id=body.site_id, model=body.model,
                                public_key=body.public_key)
            await audit(conn, principal, "robot.register", site_id=body.site_id, target=body.robot_id,
                        detail={"public_key": body.public_key, "model": body.model})
            return await fetch_robot(conn, body.robot_id)
    except psycopg.errors.UniqueViolation as exc:
        raise await _id_conflict(pool, principal, body) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise ProblemError(404, "unknown-site", f"site {body.site_id!r} does not exist") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise problem_for(exc, forbidden=f"you may not register robots at site {body.site_id!r}") from exc


async def _id_conflict(pool: PoolDep, principal: CurrentPrincipal, body: RobotCreate) -> ProblemError:
    """The 409 for a robot id that is taken. Only a caller who may see that robot learns it is registered (and
    where); anyone else gets a neutral answer that names no site, and the attempt is audited (enumeration shows)."""
    async with transaction(pool, principal) as conn:
        visible_site = await robots.site_of(conn, robot_id=body.robot_id)
        if visible_site is not None:
            return ProblemError(409, "conflict", f"robot {body.robot_id!r} is already registered at site "
                                f"{visible_site!r}")
        await audit(conn, principal, "robot.register.refused", site_id=body.site_id, target=body.robot_id,
                    detail={"reason": "id unavailable"})
    return ProblemError(409, "id-unavailable", f"robot id {body.robot_id!r} cannot be used; choose another id "
                        "(ids are unique across the whole fleet)")


@router.get("", response_model=RobotsPublic, responses=responses(401))
async def list_robots(conn: DbDep, site_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                      status_filter: Annotated[Literal["active", "decommissioned"] | None,
                                               Query(alias="status")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> RobotsPublic:
    """Robots visible to the caller, filtered by site and status, ordered by id."""
    rows = await robots.list_robots(conn, site_id=site_id, status=status_filter, limit=limit, offset=offset)
    items, next_offset = page([RobotPublic(**r) for r in rows], limit, offset)
    return RobotsPublic(items=items, next_offset=next_offset)


@router.get("/{robot_id}", response_model=RobotPublic, responses=responses(401, 404))
async def get_robot(robot_id: str, conn: DbDep) -> RobotPublic:
    """One robot's registration and ingest status."""
    return await fetch_robot(conn, robot_id)


@router.post("/{robot_id}/decommission", response_model=RobotPublic, responses=responses(401, 403, 404))
async def decommission_robot(robot_id: str, pool: PoolDep, principal: CurrentPrincipal) -> RobotPublic:
    """Decommission a robot: its device requests are refused from now on."""
    require_role(principal, "fleet_admin", "site_manager")
    async with transaction(pool, principal) as conn:
        robot = await fetch_robot(conn, robot_id)
        await robots.decommission(conn, robot_id=robot_id)
        await audit(conn, principal, "robot.decommission", site_id=robot.site_id, target=robot_id)
        return await fetch_robot(conn, robot_id)


@router.get("/{robot_id}/latest", response_model=RobotLatest, responses=responses(401, 404))
async def latest_state(robot_id: str, conn: DbDep) -> RobotLatest:
    """The latest event of every channel of one robot, with its anomaly score."""
    await fetch_robot(conn, robot_id)
    rows = await robots.latest(conn, robot_id=robot_id)
    return RobotLatest(robot_id=robot_id, channels=[
        LatestChannel(channel=CHANNEL_NAMES[c], seq=s, ts=t, payload=p, score=sc) for c, s, t, p, sc in rows])
