"""Incident recordings: a robot uploads each incident's black-box MCAP in signed, resumable chunks; people with the
incident's site fetch it at `GET /v1/incidents/{id}/recording` (docs/cognition.md, "Incident recordings").

Upload: `PUT /v1/devices/{robot_id}/recordings/{name}?offset=&size=&sha256=` with the bytes `[offset, offset+len)`
as the body (`application/octet-stream`, at most the API's request bound). The cloud answers `{"received",
"size", "complete"}`; a chunk at the wrong offset gets 409 with `received`, so a robot that restarts (or lost an
answer) resumes where the cloud is. When the last byte arrives the file is assembled, checked against its declared
size and SHA-256 (mismatch: 422, the upload restarts at 0) and written once, never overwritten, beside the
telemetry archives (`<archive>/recordings/<site>/<robot>/<name>`, any fsspec URL)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import fsspec
import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

import sigma_protocol as protocol
from sigma_cloud.api.deps import DbDep, IngestDep, PoolDep, SettingsDep
from sigma_cloud.api.problems import ProblemError, responses
from sigma_cloud.api.routes.devices import DEVICE_HEADERS, as_problem, read_body, signed_path
from sigma_cloud.core.config import Settings
from sigma_cloud.repositories import devices
from sigma_cloud.repositories import recordings as repo

router = APIRouter(tags=["cognition"])
RECORDING_PATH = "/v1/devices/{robot_id}/recordings/{name}"
MAX_RECORDING_BYTES = 256 * 1024 * 1024  # the bridge's black box keeps 64 MiB by default
MCAP_MAGIC = b"\x89MCAP0\r\n"
SERVE_CHUNK = 1024 * 1024
OCTET = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def location_for(settings: Settings, site_id: str, robot_id: str, name: str) -> str:
    """Where a completed recording lives: beside the telemetry archives."""
    return f"{settings.archive_location.rstrip('/')}/recordings/{site_id}/{robot_id}/{name}"


def _write_once(url: str, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):  # written before (an earlier attempt lost its answer): identical bytes are fine
        with fs.open(path, "rb") as f:
            if f.read() == data:
                return
        raise ProblemError(409, "recording-exists", f"a different recording is already stored as {url!r}")
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "xb") as f:
        f.write(data)


def _state(row: dict[str, Any], received: int, complete: bool) -> Response:
    return Response(orjson.dumps({"received": received, "size": int(row["size"]), "complete": complete}),
                    media_type="application/json")


@router.put(RECORDING_PATH, openapi_extra={**DEVICE_HEADERS, "requestBody": {"required": True, **OCTET}},
            responses=responses(400, 401, 403, 409, 413, 422))
async def upload_chunk(request: Request, robot_id: str, name: str, ingest: IngestDep, pool: PoolDep,
                       settings: SettingsDep, offset: Annotated[int, Query(ge=0, le=MAX_RECORDING_BYTES)],
                       size: Annotated[int, Query(ge=1, le=MAX_RECORDING_BYTES)],
                       sha256: Annotated[str, Query(pattern="^[0-9a-f]{64}$")]) -> Response:
    """Store one chunk of the robot's recording `name` (signed); the last chunk completes and checks the file."""
    body = await read_body(request, settings.max_request_bytes)
    try:
        signer = await ingest.authenticate(request.headers, "PUT", signed_path(request), body, time.time())
    except protocol.ProtocolError as exc:
        raise as_problem(exc) from exc
    if signer != robot_id:
        raise ProblemError(403, "robot-mismatch", f"signed by {signer!r} but addressed to {robot_id!r}")
    if not re.fullmatch(repo.NAME_PATTERN, name):
        raise ProblemError(400, "malformed-recording", f"recording name {name!r} must match {repo.NAME_PATTERN}")
    if not body:
        raise ProblemError(400, "malformed-recording", "empty chunk: the body carries the bytes at `offset`")
    async with pool.connection() as conn, conn.transaction():
        await devices.act_as(conn, robot_id=robot_id)
        if not await devices.claim_nonce(conn, robot_id=robot_id, nonce=request.headers[protocol.HEADER_NONCE]):
            raise ProblemError(409, "replay", "this request (nonce) was already processed")
        row = await repo.open_upload(conn, robot_id=robot_id, name=name, size=size, sha256=sha256)
        if (int(row["size"]), row["sha256"]) != (size, sha256):
            raise ProblemError(409, "recording-conflict", f"{name!r} was declared with size {row['size']} and "
                               f"sha256 {row['sha256']}; a recording name is never reused")
        if row["completed_at"] is not None:
            return _state(row, int(row["size"]), True)
        received = int(row["received"])
        if offset != received:
            raise ProblemError(409, "offset-mismatch", f"the cloud has {received} bytes of {name!r}; send from there",
                               received=received)
        if offset + len(body) > size:
            raise ProblemError(422, "recording-too-long", f"chunk ends at {offset + len(body)}, past size {size}")
        received = await repo.add_chunk(conn, robot_id=robot_id, name=name, offset=offset, data=body)
        if received < size:
            return _state(row, received, False)
        data = b"".join(await repo.chunks(conn, robot_id=robot_id, name=name))
        if hashlib.sha256(data).hexdigest() != sha256 or not data.startswith(MCAP_MAGIC):
            await repo.restart(conn, robot_id=robot_id, name=name)
            detail = "not an MCAP file" if not data.startswith(MCAP_MAGIC) else "SHA-256 mismatch"
            # committed on purpose: the chunks are dropped and the robot starts again at 0
            return _refused(detail, name)
        url = location_for(settings, row["site_id"], robot_id, name)
        await asyncio.to_thread(_write_once, url, data)
        await repo.complete(conn, robot_id=robot_id, name=name, location=url)
    return _state(row, size, True)


def _refused(detail: str, name: str) -> Response:
    body = {"type": "https://sigmaprompt.dev/problems/recording-refused", "title": "Unprocessable Content",
            "status": 422, "detail": f"{name}: {detail}; the upload restarts at offset 0", "received": 0}
    return Response(orjson.dumps(body), status_code=422, media_type="application/problem+json")


def _stream(url: str) -> Iterator[bytes]:
    fs, path = fsspec.core.url_to_fs(url)
    with fs.open(path, "rb") as f:
        while chunk := f.read(SERVE_CHUNK):
            yield chunk


@router.get("/v1/incidents/{incident_id}/recording", response_class=StreamingResponse,
            responses={**responses(401, 404), 200: {"description": "the incident's MCAP recording", **OCTET}})
async def incident_recording(incident_id: uuid.UUID, conn: DbDep) -> StreamingResponse:
    """The incident's black-box recording (MCAP, ros2 profile) as the robot uploaded it; open it in Foxglove."""
    row = await repo.of_incident(conn, incident_id=incident_id)
    if row is None:
        raise ProblemError(404, "not-found", f"incident {incident_id} not found (or not in your sites)")
    if row["recording"] is None:
        raise ProblemError(404, "no-recording", f"incident {incident_id} has no black-box recording")
    if row["completed_at"] is None:
        got = 0 if row["received"] is None else int(row["received"])
        raise ProblemError(404, "recording-pending", f"the robot has not finished uploading {row['recording']!r} "
                           f"({got} bytes so far); it uploads after its live telemetry")
    return StreamingResponse(_stream(row["location"]), media_type="application/octet-stream", headers={
        "Content-Length": str(row["size"]), "Content-Disposition": f'attachment; filename="{row["recording"]}"',
        "X-Recording-SHA256": row["sha256"]})
