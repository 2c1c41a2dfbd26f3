"""Robot logs (docs/logs.md): robots post signed batches of their /rosout records; people query a robot's records
(`GET /v1/robots/{id}/logs`) or an incident's time window (`GET /v1/incidents/{id}/logs`), so the logs line up
with the incident's safety events and its black-box recording.

Device batches (`sigma_protocol.logs`): signed like ingest, a nonce used once, records above the stream's
high-water mark stored once; a record with a problem of its own (bad stamp, unknown severity...) is skipped and
named in the answer's `errors` (resending it could never succeed), the rest is stored. 200 only once durable."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

import sigma_protocol as protocol
from sigma_cloud.api.deps import DbDep, IngestDep, PoolDep, SettingsDep
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.devices import DEVICE_HEADERS, as_problem, read_body, signed_path
from sigma_cloud.api.routes.robots import fetch_robot
from sigma_cloud.repositories import devices
from sigma_cloud.repositories import logs as repo
from sigma_cloud.repositories import service_logs as service_repo
from sigma_protocol import logs as wire

router = APIRouter(tags=["logs"])
SeverityName = Literal["debug", "info", "warn", "error", "fatal"]
MAX_WINDOW = dt.timedelta(days=31)
DEFAULT_WINDOW = dt.timedelta(hours=1)


class LogRecordPublic(BaseModel):
    """One record as the robot's node logged it (rcl_interfaces/msg/Log), with the bridge's stream and seq."""

    ts: dt.datetime = Field(description="the record's stamp (the robot's clock)")
    severity: SeverityName
    node: str = Field(description="logger name: <robot_id>.<node>")
    message: str
    file: str
    function: str
    line: int
    trace_id: str | None = Field(description="W3C trace id the message carries, if any")
    stream: int = Field(description="bridge incarnation that shipped it")
    seq: int
    received_at: dt.datetime


class ServiceLogPublic(BaseModel):
    """One record of a cloud process (service_logs, docs/logs.md "The cloud's own logs")."""

    id: int
    ts: dt.datetime = Field(description="when the cloud process logged it (the cloud's clock)")
    severity: SeverityName
    service: str = Field(description="api, cognition, migrate, maintenance, ...")
    instance: str = Field(description="host:pid of the process (one API worker or replica)")
    logger: str
    message: str
    robot_id: str | None = Field(description="the robot the request or work concerned, if any")
    trace_id: str | None = Field(description="W3C trace id: the cloud span's, else the caller's traceparent")
    span_id: str | None
    request_id: str | None
    extra: dict[str, Any] = Field(description="method, path, status, duration_ms, exc where present")
    received_at: dt.datetime


def service_item(row: dict[str, Any]) -> ServiceLogPublic:
    return ServiceLogPublic(**{**row, "severity": wire.severity_name(row["severity"])})


class LogsPublic(BaseModel):
    """A page of records, oldest first; `next_cursor` continues it (null: no more)."""

    robot_id: str
    since: dt.datetime
    until: dt.datetime
    items: list[LogRecordPublic]
    next_cursor: str | None
    dropped: dict[str, dict[str, int]] = Field(
        description="records the robot dropped (reason buffer|rate -> severity -> count) in the streams of the window")
    incident_id: uuid.UUID | None = None
    cloud: list[ServiceLogPublic] | None = Field(
        default=None, description="incidents only, first page: the cloud's own records about the robot in the window "
        "(at most `limit`; more via GET /v1/logs?robot_id=)")
    cloud_more: bool | None = None


class LogAckPublic(BaseModel):
    robot_id: str
    stream: int
    accepted: int
    duplicates: int
    refused: int
    acked_through: int
    errors: list[dict[str, Any]] = []


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)  # naive times are UTC


def _cursor(row: dict[str, Any]) -> str:
    ts: dt.datetime = row["ts"]
    micros = (ts - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)
    return f"{micros}.{row['stream']}.{row['seq']}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, int, int] | None:
    if cursor is None:
        return None
    try:
        micros, stream, seq = (int(p) for p in cursor.split("."))
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros), stream, seq
    except (ValueError, OverflowError) as exc:
        raise ProblemError(422, "invalid-request", f"cursor {cursor[:64]!r} is not one this API returned; use the "
                           "last page's next_cursor", errors=[{"field": "query.cursor",
                                                               "message": "malformed"}]) from exc


def _window(since: dt.datetime | None, until: dt.datetime | None, default: dt.timedelta = DEFAULT_WINDOW
            ) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) in UTC (until defaults to now, since to `default` before it); 422 naming the field when
    since is not before until or the window is longer than MAX_WINDOW."""
    until = _utc(until) if until else dt.datetime.now(dt.timezone.utc)
    try:
        since = _utc(since) if since else until - default
    except OverflowError as exc:
        raise ProblemError(422, "invalid-request", f"until {until.isoformat()} is too early; give since as well",
                           errors=[{"field": "query.until", "message": "out of range"}]) from exc
    if not since < until:
        raise ProblemError(422, "invalid-request", f"since ({since.isoformat()}) must be before until "
                           f"({until.isoformat()})", errors=[{"field": "query.since", "message": "not before until"}])
    if until - since > MAX_WINDOW:
        raise ProblemError(422, "invalid-request", f"the window is {until - since}; ask at most {MAX_WINDOW.days} "
                           "days at a time", errors=[{"field": "query.since", "message": "window too long"}])
    return since, until


async def _page(conn: Any, robot_id: str, since: dt.datetime, until: dt.datetime, min_severity: SeverityName,
                q: str | None, node: str | None, cursor: str | None, limit: int,
                trace_id: str | None = None) -> LogsPublic:
    rows = await repo.records(conn, robot_id=robot_id, since=since, until=until,
                              min_severity=wire.SEVERITY_OF_NAME[min_severity], q=q, node=node,
                              after=_parse_cursor(cursor), limit=limit + 1, trace_id=trace_id)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [LogRecordPublic(**{**r, "severity": wire.severity_name(r["severity"])}) for r in rows]
    return LogsPublic(robot_id=robot_id, since=since, until=until, items=items,
                      next_cursor=_cursor(rows[-1]) if more else None,
                      dropped=await repo.dropped(conn, robot_id=robot_id, since=since, until=until))


Severity = Annotated[SeverityName, Query(description="lowest severity returned")]
Text = Annotated[str | None, Query(min_length=1, max_length=200, description="case-insensitive substring of message")]
Node = Annotated[str | None, Query(min_length=1, max_length=256, description="exact logger name, e.g. r1.core_node")]
Cursor = Annotated[str | None, Query(max_length=80, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]
TraceId = Annotated[str | None, Query(pattern="^[0-9a-f]{32}$", description="W3C trace id (32 lowercase hex)")]


@router.get("/v1/robots/{robot_id}/logs", response_model=LogsPublic, responses=responses(401, 404, 422))
async def robot_logs(robot_id: str, conn: DbDep, since: dt.datetime | None = None, until: dt.datetime | None = None,
                     min_severity: Severity = "debug", q: Text = None, node: Node = None, cursor: Cursor = None,
                     limit: Limit = 200, trace_id: TraceId = None) -> LogsPublic:
    """The robot's log records in [since, until) (default: the last hour), oldest first, paged; `trace_id` keeps
    the records of one trace."""
    await fetch_robot(conn, robot_id)  # 404 unless visible to the caller (RLS)
    since, until = _window(since, until)
    return await _page(conn, robot_id, since, until, min_severity, q, node, cursor, limit, trace_id)


@router.get("/v1/incidents/{incident_id}/logs", response_model=LogsPublic, responses=responses(401, 404, 422))
async def incident_logs(incident_id: uuid.UUID, conn: DbDep,
                        before_s: Annotated[float, Query(ge=0, le=86_400)] = 60.0,
                        after_s: Annotated[float, Query(ge=0, le=86_400)] = 30.0,
                        min_severity: Severity = "debug", q: Text = None, node: Node = None, cursor: Cursor = None,
                        limit: Limit = 200) -> LogsPublic:
    """The incident robot's records from `before_s` before the incident to `after_s` after it (its black box holds
    10 s before and 2 s after by default), so logs, safety events and the recording line up in time; on the first
    page also the cloud's own records about the robot in the same window (`cloud`)."""
    row = await repo.incident(conn, incident_id=incident_id)
    if row is None:
        raise ProblemError(404, "not-found", f"incident {incident_id} not found (or not in your sites)")
    since = row["at"] - dt.timedelta(seconds=before_s)
    until = row["at"] + dt.timedelta(seconds=after_s) + dt.timedelta(microseconds=1)
    page = await _page(conn, row["robot_id"], since, until, min_severity, q, node, cursor, limit)
    page.incident_id = incident_id
    if cursor is None:
        cloud = await service_repo.records(conn, since=since, until=until,
                                           min_severity=wire.SEVERITY_OF_NAME[min_severity],
                                           robot_id=row["robot_id"], q=q, limit=limit + 1)
        page.cloud, page.cloud_more = [service_item(r) for r in cloud[:limit]], len(cloud) > limit
    return page


@router.post(wire.LOGS_PATH, response_model=LogAckPublic, openapi_extra=DEVICE_HEADERS,
             responses=responses(400, 401, 403, 409, 413, 422))
async def device_logs(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep,
                      settings: SettingsDep) -> Response:
    """Store a signed batch of the robot's log records; 200 once durable (docs/logs.md)."""
    body = await read_body(request, settings.max_request_bytes)
    now = time.time()
    try:
        signer = await ingest.authenticate(request.headers, "POST", signed_path(request), body, now)
        if signer != robot_id:
            raise ProblemError(403, "robot-mismatch", f"signed by {signer!r} but addressed to {robot_id!r}")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ProblemError(400, "malformed-batch", f"body is not JSON: {exc}") from exc
        stream, records, dropped, errors = wire.validate_log_batch(data, robot_id, now, settings.max_event_age_s,
                                                                   settings.clock_skew_s)
    except protocol.ProtocolError as exc:
        raise as_problem(exc) from exc
    bad = {e.index for e in errors}
    valid = [r for i, r in enumerate(records) if i not in bad]
    seqs = [r["seq"] for r in records if isinstance(r, dict) and isinstance(r.get("seq"), int)]
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        accepted, duplicates, through = await repo.store_batch(
            conn, robot_id=robot_id, stream=stream, records=valid, last_seq=max(seqs, default=0),
            refused=len(bad), dropped=dropped)
    ack = LogAckPublic(robot_id=robot_id, stream=stream, accepted=accepted, duplicates=duplicates, refused=len(bad),
                       acked_through=through, errors=[e.to_json() for e in errors[:20]])
    return Response(orjson.dumps(ack.model_dump()), media_type="application/json")
