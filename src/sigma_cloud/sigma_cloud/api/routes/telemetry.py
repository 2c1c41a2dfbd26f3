"""Telemetry of one robot over a time range, optionally downsampled; archived days answered from Parquet."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

import sigma_protocol as protocol
from sigma_cloud.api.deps import DbDep
from sigma_cloud.api.models import TelemetryPoint, TelemetryPublic
from sigma_cloud.api.problems import responses
from sigma_cloud.api.routes.robots import CHANNEL_NAMES, fetch_robot
from sigma_cloud.core.retention import downsample, read_archived
from sigma_cloud.repositories import telemetry

router = APIRouter(prefix="/v1/robots", tags=["telemetry"])
ChannelName = Literal["joint_states", "actuator_health", "battery", "imu", "odom", "safety_status", "safety_event"]
@router.get("/{robot_id}/telemetry", response_model=TelemetryPublic, responses=responses(401, 404, 422))
async def robot_telemetry(
    robot_id: str, conn: DbDep, start: dt.datetime, end: dt.datetime,
    channel: Annotated[ChannelName | None, Query(description="one of the protocol channels")] = None,
    bucket_s: Annotated[float | None, Query(ge=0.001, le=86400, description="downsample into buckets")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> TelemetryPublic:
    """Events (or per-bucket aggregates) of one robot in [start, end), oldest first, at most `limit` points."""
    start = start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)  # naive times are UTC
    end = end if end.tzinfo else end.replace(tzinfo=dt.timezone.utc)
    channel_id = protocol.CHANNEL_IDS[channel] if channel else None
    await fetch_robot(conn, robot_id)  # 404 unless visible to the caller (RLS)
    if not start < end:
        return TelemetryPublic(robot_id=robot_id, start=start, end=end, bucket_s=bucket_s, archived_days=[], items=[])
    rows = await telemetry.events(conn, robot_id=robot_id, start=start, end=end, channel=channel_id,
                                  bucket_s=bucket_s, limit=limit)
    catalog = await telemetry.archived_days(conn, first=start.astimezone(dt.timezone.utc).date(),
                                            last=end.astimezone(dt.timezone.utc).date())
    archived_days = [day for day, _ in catalog]
    if catalog:
        archived: list[dict[str, Any]] = []
        for _, url in catalog:
            archived += await asyncio.to_thread(read_archived, url, robot_id, start, end, channel_id)
        if bucket_s:
            archived = downsample(archived, bucket_s)
        rows = sorted(archived + rows, key=lambda r: (r["ts"], r["channel"], r["seq"]))[:limit]
    items = [TelemetryPoint(ts=r["ts"], channel=CHANNEL_NAMES[r["channel"]], seq=r["seq"], count=r["count"],
                            score=r["score"], payload=r["payload"]) for r in rows]
    return TelemetryPublic(robot_id=robot_id, start=start, end=end, bucket_s=bucket_s, archived_days=archived_days,
                           items=items)
