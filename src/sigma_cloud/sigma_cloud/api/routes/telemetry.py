"""Telemetry of one robot over a time range, optionally downsampled; archived days answered from Parquet."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from psycopg.rows import dict_row

import sigma_protocol as protocol
from sigma_cloud.api.deps import DbDep
from sigma_cloud.api.models import TelemetryPoint, TelemetryPublic
from sigma_cloud.api.problems import responses
from sigma_cloud.api.routes.robots import CHANNEL_NAMES, fetch_robot
from sigma_cloud.core.retention import downsample, read_archived

router = APIRouter(prefix="/v1/robots", tags=["telemetry"])
ChannelName = Literal["joint_states", "actuator_health", "battery", "imu", "odom", "safety_status", "safety_event"]
RAW_SQL = ("SELECT ts, channel, seq, 1 AS count, score, payload FROM telemetry WHERE robot_id = %(robot)s "
           "AND ts >= %(start)s AND ts < %(end)s AND (%(channel)s::smallint IS NULL OR channel = %(channel)s) "
           "ORDER BY ts, seq LIMIT %(limit)s")
BUCKETED_SQL = ("SELECT date_bin(make_interval(secs => %(bucket)s), ts, to_timestamp(0)) AS ts, channel, "
                "max(seq) AS seq, count(*) AS count, max(score) AS score, "
                "(array_agg(payload ORDER BY seq DESC))[1] AS payload FROM telemetry WHERE robot_id = %(robot)s "
                "AND ts >= %(start)s AND ts < %(end)s AND (%(channel)s::smallint IS NULL OR channel = %(channel)s) "
                "GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s")


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
    params: dict[str, Any] = {"robot": robot_id, "start": start, "end": end, "channel": channel_id,
                              "bucket": bucket_s, "limit": limit}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(BUCKETED_SQL if bucket_s else RAW_SQL, params)
    rows = await cur.fetchall()
    catalog = await (await conn.execute("SELECT day, url FROM archive_catalog WHERE day >= %s AND day <= %s "
                                        "ORDER BY day", (start.astimezone(dt.timezone.utc).date(),
                                         end.astimezone(dt.timezone.utc).date()))).fetchall()
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
