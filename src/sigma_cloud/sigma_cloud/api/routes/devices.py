"""Device-authenticated endpoints (Ed25519 signatures, docs/device-protocol.md): ingest, downlink, ack."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, Query, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response

import sigma_protocol as protocol
from sigma_cloud.api.db_errors import problem_for
from sigma_cloud.api.deps import IngestDep, PoolDep
from sigma_cloud.api.direct_route import DirectRoute
from sigma_cloud.api.models import DeviceDecision, DeviceDecisions, IngestAckPublic
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.core.ingest import IngestRejected, NotPriorityError
from sigma_cloud.core.notifier import DecisionNotifier, wait_event
from sigma_cloud.core.observability import current_traceparent, span
from sigma_cloud.repositories import decisions, devices

router = APIRouter(tags=["devices"])
DEVICE_HEADERS = {"parameters": [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}} for h in
                                 (protocol.HEADER_ROBOT, protocol.HEADER_TIMESTAMP, protocol.HEADER_NONCE,
                                  protocol.HEADER_SIGNATURE)]}
# Every ingest answer names the batch formats this cloud accepts: a robot sends format 2 only once it has seen it.
BATCH_FORMATS_HEADER = {protocol.HEADER_BATCH_FORMATS: ", ".join(map(str, protocol.BATCH_FORMATS))}


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "body-too-large", f"body of {declared} bytes exceeds {limit}; split the batch")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProblemError(413, "body-too-large", f"body exceeds {limit} bytes; split the batch")
            chunks.append(chunk)
    except ClientDisconnect as exc:  # the robot gave up (its timeout) while the batch waited: nothing to answer
        raise ProblemError(400, "client-disconnected", "the client closed the connection before its body "
                           "was read; nothing was stored") from exc
    return b"".join(chunks)


def as_problem(exc: protocol.ProtocolError) -> ProblemError:
    extra: dict[str, Any] = {}
    headers = {}
    if isinstance(exc, IngestRejected):
        if exc.errors:
            extra["errors"] = exc.errors
        if exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
    return ProblemError(exc.status, exc.kind, exc.detail, headers=headers, **extra)


def signed_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


async def ingest_batch(request: Request) -> Response:
    """Store a signed telemetry batch; 200 only once durable (docs/device-protocol.md). Signed for
    INGEST_PRIORITY_PATH (`?lane=priority`), a small alert batch takes the priority lane: its own slot and
    connection, never queued behind bulk batches; one that does not deserve it is demoted to the bulk lane
    (same answer; X-Sigma-Lane says which lane stored it)."""
    ingest = request.app.state.ingest  # a DirectRoute: no dependency resolution (api/direct_route.py)
    settings = ingest.settings
    lane = "priority" if _claims_priority(request, settings.ingest_priority_max_bytes) else "bulk"
    if lane == "bulk" and request.query_params.get("lane") == "priority":
        ingest.priority_demoted += 1  # too large (or of unknown size) for the lane: demoted before it is read
    body: bytes | None = None
    try:
        if lane == "priority":
            try:
                async with ingest.admission(lambda: read_body(request, settings.ingest_priority_max_bytes),
                                            priority=True) as body:
                    robot_id, ack = await _ingest(request, ingest, body, priority=True)
                ingest.priority_admitted += 1
            except NotPriorityError:
                ingest.priority_demoted += 1
                lane = "bulk"
        if lane == "bulk":
            read = _given(body) if body is not None else (lambda: read_body(request, settings.max_body_bytes))
            async with ingest.admission(read) as body:  # the body, then a slot: bounded work per process
                robot_id, ack = await _ingest(request, ingest, body, priority=False)
    except protocol.ProtocolError as exc:
        request.app.state.metrics.batches.labels(exc.kind).inc()
        raise as_problem(exc) from exc
    except psycopg.Error as exc:
        raise problem_for(exc, where=protocol.INGEST_PATH) from exc
    request.app.state.metrics.batches.labels("ok").inc()
    request.app.state.metrics.events.inc(ack.accepted)
    if ack.accepted and (console := getattr(request.app.state, "console_hub", None)) is not None \
            and (key := ingest.keys.get(robot_id)) is not None:
        console.wake(key.site_id)  # committed: the console's live map of the robot's site reads it now, no I/O
    return Response(orjson.dumps(ack.__dict__), media_type="application/json",
                    headers={**BATCH_FORMATS_HEADER, protocol.HEADER_LANE: lane})


# The hot endpoint is served without FastAPI's per-request machinery (docs/cloud.md "Ingest efficiency", sixth
# round); it is described in the OpenAPI document like every other route.
router.add_api_route(protocol.INGEST_PATH, ingest_batch, methods=["POST"], route_class_override=DirectRoute,
                     response_model=IngestAckPublic, openapi_extra=DEVICE_HEADERS,
                     responses=responses(400, 401, 403, 408, 409, 413, 422, 503))


def _given(body: bytes) -> Callable[[], Awaitable[bytes]]:
    """A reader of a body already read (a priority batch demoted to the bulk lane)."""
    async def read() -> bytes:
        return body
    return read


def _claims_priority(request: Request, max_bytes: int) -> bool:
    """The request asks for the priority lane (in its signed path) and declares a body small enough for it."""
    declared = request.headers.get("content-length", "")
    return request.query_params.get("lane") == "priority" and declared.isdigit() and int(declared) <= max_bytes


async def _ingest(request: Request, ingest: Any, body: bytes, priority: bool) -> tuple[str, protocol.IngestAck]:
    """Verify and store one batch read in its lane; NotPriorityError when a priority batch does not deserve the lane."""
    now = time.time()
    with span("sigma.ingest.batch", **{"sigma.batch.bytes": len(body)}) as ingest_span:
        robot_id = await ingest.authenticate(request.headers, "POST", signed_path(request), body, now)
        trace = current_traceparent() or _robot_trace(request)  # the cloud's span, else the robot's own
        columnar = request.headers.get("content-type", "").startswith(protocol.CONTENT_TYPE_COLUMNAR)
        ack = await ingest.ingest(robot_id, request.headers[protocol.HEADER_NONCE], body, now, trace, columnar,
                                  priority)
        if ingest_span is not None:
            ingest_span.set_attributes({"sigma.robot_id": robot_id, "sigma.batch.accepted": ack.accepted,
                                        "sigma.batch.acked_through": ack.acked_through,
                                        "sigma.batch.lane": "priority" if priority else "bulk"})
    return robot_id, ack


def _robot_trace(request: Request) -> str:
    """The robot's valid traceparent header as sent ("" when absent or malformed: never refused for it)."""
    parsed = protocol.parse_traceparent(request.headers.get(protocol.HEADER_TRACEPARENT))
    return parsed.header() if parsed else ""


def _continue_traces(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each delivered decision gets a delivery span in its own trace; the robot continues that span in its ack."""
    for item in items:
        if item.get("traceparent"):
            with span("sigma.decision.deliver", parent=item["traceparent"], **{"sigma.robot_id": item["robot_id"],
                      "sigma.decision_id": item["decision_id"], "sigma.decision.action": item["action"]}):
                item["traceparent"] = current_traceparent() or item["traceparent"]
    return items


async def _authenticated(request: Request, ingest: Any, robot_id: str, body: bytes) -> str:
    try:
        signer = await ingest.authenticate(request.headers, request.method, signed_path(request), body, time.time())
    except protocol.ProtocolError as exc:
        raise as_problem(exc) from exc
    if signer != robot_id:
        raise ProblemError(403, "robot-mismatch", f"signed by {signer!r} but addressed to {robot_id!r}")
    return signer


async def _pending(pool: Any, notifier: DecisionNotifier, robot_id: str) -> list[dict[str, Any]]:
    """The robot's pending decisions; no database work when the listener knows there are none (migration 0072)."""
    if not notifier.may_have_pending(robot_id):
        return []
    token = notifier.notes(robot_id)
    async with pool.connection() as conn, conn.pipeline(), conn.transaction():  # one round trip
        await devices.act_as(conn, robot_id=robot_id)
        items = await decisions.pending_for(conn, robot_id=robot_id)
    if not items:
        notifier.settled(robot_id, token)
    return items


@router.get("/v1/devices/{robot_id}/decisions", openapi_extra=DEVICE_HEADERS, response_model=DeviceDecisions,
            responses=responses(401, 403, 409))
async def device_decisions(request: Request, robot_id: str, ingest: IngestDep, pool: PoolDep,
                           wait: Annotated[float, Query(ge=0, le=protocol.MAX_LONG_POLL_S)] = 0) -> Response:
    """Pending, unexpired decisions for the signing robot; long-polls up to `wait` seconds when there are none.

    An idle long-poll costs no transaction of its own: its nonce is claimed with the others' in one statement
    (core/group_call.py), and the decisions are read only when a NOTIFY says the robot may have one."""
    await _authenticated(request, ingest, robot_id, b"")
    deadline = time.monotonic() + wait
    notifier: DecisionNotifier = request.app.state.notifier
    with notifier.listening(robot_id) as woken:  # before the first read: no lost NOTIFY
        if not await request.app.state.nonce_claims((robot_id, request.headers[protocol.HEADER_NONCE])):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        items = await _pending(pool, notifier, robot_id)
        while not items and time.monotonic() < deadline:
            if await wait_event(woken, deadline - time.monotonic()):
                items = await _pending(pool, notifier, robot_id)
    return Response(orjson.dumps({"decisions": _continue_traces(items)}), media_type="application/json")


@router.post("/v1/devices/{robot_id}/decisions/{decision_id}/ack", openapi_extra=DEVICE_HEADERS,
             response_model=DeviceDecision, responses=responses(400, 401, 403, 404, 409))
async def device_ack(request: Request, robot_id: str, decision_id: str, ingest: IngestDep, pool: PoolDep) -> Response:
    """Record the robot's outcome for one decision (applied / rejected / expired); idempotent."""
    body = await read_body(request, 64 * 1024)
    await _authenticated(request, ingest, robot_id, body)
    try:
        data = orjson.loads(body)
        ack_status, detail = data["status"], str(data.get("detail") or "")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ProblemError(400, "malformed-ack",
                           'body must be {"status": "applied|rejected|expired", "detail": "..."}') from exc
    if ack_status not in protocol.ACK_STATUSES:
        raise ProblemError(400, "malformed-ack", f"status must be one of {sorted(protocol.ACK_STATUSES)}")
    # Pipeline mode, two round trips (the decision path's last step, docs/cognition.md "Decision latency"): identity,
    # nonce and the locked status travel together; the update, the decision's view and COMMIT together.
    async with pool.connection() as conn:
        async with conn.pipeline(), conn.transaction():
            await devices.act_as(conn, robot_id=robot_id)
            nonce = await devices.send_nonce_claim(conn, robot_id=robot_id,
                                                   nonce=request.headers[protocol.HEADER_NONCE])
            previous = await decisions.lock_status(conn, robot_id=robot_id, decision_id=decision_id)
            if nonce.rowcount != 1:
                raise ProblemError(409, "replay", "this request (nonce) was already processed")
            if previous is None:
                raise ProblemError(404, "not-found", f"decision {decision_id!r} is not addressed to {robot_id!r}")
            if previous == "pending":
                await decisions.acknowledge(conn, robot_id=robot_id, decision_id=decision_id, status=ack_status,
                                            detail=detail)
            elif previous != ack_status:
                raise ProblemError(409, "already-acknowledged", f"decision was already acknowledged as {previous!r}")
            view = await decisions.send_device_decision(conn, decision_id=decision_id)  # read back after the COMMIT
        row = await view.fetchone()
    assert row is not None  # locked above in the same transaction
    decision = decisions.device_view(row)
    if previous == "pending":
        latency = max(0.0, time.time() - decision["created_at"])
        request.app.state.metrics.decision_ack.labels(ack_status).observe(latency)
    return Response(orjson.dumps(decision), media_type="application/json")
