"""The cloud's own logs (docs/logs.md "The cloud's own logs"): `GET /v1/logs` pages the records every cloud process
wrote into `service_logs` (by service, process, robot, trace, text); `GET /v1/traces/{trace_id}/logs` puts one
trace's robot and cloud records on one time line. Bearer JWT like every read route; RLS decides what each caller
sees (the fleet admin everything, site managers and operators the records about their sites' robots)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from sigma_cloud.api.deps import DbDep
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.logs import (
    Cursor,
    Limit,
    ServiceLogPublic,
    Severity,
    Text,
    TraceId,
    _window,
    service_item,
)
from sigma_cloud.repositories import service_logs as repo
from sigma_protocol import logs as wire

router = APIRouter(tags=["logs"])
DEFAULT_WINDOW = dt.timedelta(hours=1)
TRACE_WINDOW = dt.timedelta(days=1)
Name = Annotated[str | None, Query(min_length=1, max_length=128)]


class ServiceLogsPublic(BaseModel):
    """A page of cloud records, oldest first; `next_cursor` continues it (null: no more)."""

    since: dt.datetime
    until: dt.datetime
    items: list[ServiceLogPublic]
    next_cursor: str | None


class TraceRecordPublic(BaseModel):
    """One record of a trace: a robot's (`source` robot: node, file, line) or a cloud process's (`source` cloud:
    service, instance, logger)."""

    source: Literal["robot", "cloud"]
    ts: dt.datetime
    severity: str
    message: str
    robot_id: str | None
    span_id: str | None = None
    node: str | None = None
    service: str | None = None
    instance: str | None = None
    logger: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="robot: file, function, line, stream, seq; "
                                   "cloud: extra, request_id")


class TraceLogsPublic(BaseModel):
    trace_id: str
    since: dt.datetime
    until: dt.datetime
    items: list[TraceRecordPublic] = Field(description="robot and cloud records of the trace, by time")
    truncated: bool = Field(description="more than `limit` records of one source: narrow the window")


def _cursor(row: dict[str, Any]) -> str:
    micros = (row["ts"] - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)
    return f"{micros}.{row['id']}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if cursor is None:
        return None
    try:
        micros, row_id = (int(p) for p in cursor.split("."))
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros), row_id
    except (ValueError, OverflowError) as exc:
        raise ProblemError(422, "invalid-request", f"cursor {cursor[:64]!r} is not one this API returned; use the "
                           "last page's next_cursor", errors=[{"field": "query.cursor",
                                                               "message": "malformed"}]) from exc


@router.get("/v1/logs", response_model=ServiceLogsPublic, responses=responses(401, 422))
async def service_logs(conn: DbDep, since: dt.datetime | None = None, until: dt.datetime | None = None,
                       service: Name = None, instance: Name = None, robot_id: Name = None, trace_id: TraceId = None,
                       min_severity: Severity = "debug", q: Text = None, cursor: Cursor = None,
                       limit: Limit = 200) -> ServiceLogsPublic:
    """The cloud processes' own records in [since, until) (default: the last hour), oldest first, paged."""
    since, until = _window(since, until, DEFAULT_WINDOW)
    rows = await repo.records(conn, since=since, until=until, min_severity=wire.SEVERITY_OF_NAME[min_severity],
                              service=service, instance=instance, robot_id=robot_id, trace_id=trace_id, q=q,
                              after=_parse_cursor(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ServiceLogsPublic(since=since, until=until, items=[service_item(r) for r in rows],
                             next_cursor=_cursor(rows[-1]) if more else None)


@router.get("/v1/traces/{trace_id}/logs", response_model=TraceLogsPublic, responses=responses(401, 422))
async def trace_logs(conn: DbDep, trace_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
                     since: dt.datetime | None = None, until: dt.datetime | None = None,
                     limit: Limit = 500) -> TraceLogsPublic:
    """Every record of one trace, the robots' and the cloud's, on one time line (default: the last day)."""
    since, until = _window(since, until, TRACE_WINDOW)
    robot_rows = await repo.robot_records_of_trace(conn, trace_id=trace_id, since=since, until=until,
                                                   limit=limit + 1)
    cloud_rows = await repo.records(conn, since=since, until=until, min_severity=10, trace_id=trace_id,
                                    limit=limit + 1)
    truncated = len(robot_rows) > limit or len(cloud_rows) > limit
    items = [TraceRecordPublic(source="robot", ts=r["ts"], severity=wire.severity_name(r["severity"]),
                               message=r["message"], robot_id=r["robot_id"], node=r["node"],
                               detail={k: r[k] for k in ("file", "function", "line", "stream", "seq")})
             for r in robot_rows[:limit]]
    items += [TraceRecordPublic(source="cloud", ts=r["ts"], severity=wire.severity_name(r["severity"]),
                                message=r["message"], robot_id=r["robot_id"], span_id=r["span_id"],
                                service=r["service"], instance=r["instance"], logger=r["logger"],
                                detail={**r["extra"], "request_id": r["request_id"]})
              for r in cloud_rows[:limit]]
    items.sort(key=lambda item: item.ts)
    return TraceLogsPublic(trace_id=trace_id, since=since, until=until, items=items, truncated=truncated)
