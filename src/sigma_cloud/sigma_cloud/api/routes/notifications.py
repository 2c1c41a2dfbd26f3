"""A site's notifications: what the automated incident response did (docs/runbooks/robot-silent.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sigma_cloud.api.deps import DbDep
from sigma_cloud.api.models import NotificationPublic, NotificationsPublic
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.repositories import notifications, sites

router = APIRouter(prefix="/v1/sites", tags=["notifications"])


@router.get("/{site_id}/notifications", response_model=NotificationsPublic, responses=responses(401, 404))
async def list_notifications(site_id: str, conn: DbDep,
                             after_id: Annotated[int, Query(ge=0, description="only newer than this id")] = 0,
                             limit: Annotated[int, Query(ge=1, le=500)] = 100) -> NotificationsPublic:
    """The site's notifications, newest first (site managers and operators of the site, fleet admins)."""
    if not await sites.exists(conn, site_id=site_id):
        raise ProblemError(404, "not-found", f"site {site_id!r} not found (or not one of yours)")
    rows = await notifications.list_notifications(conn, site_id=site_id, after_id=after_id, limit=limit)
    return NotificationsPublic(items=[NotificationPublic(**r) for r in rows])
