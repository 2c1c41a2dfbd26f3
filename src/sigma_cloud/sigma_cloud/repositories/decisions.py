"""Decisions addressed to robots: created and read by the fleet API, fetched and acknowledged by the devices."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

DEVICE_KEYS = ("decision_id", "robot_id", "source", "confidence", "action", "parameters", "created_at", "deadline",
               "status", "traceparent")
PENDING_SQL = ("SELECT decision_id, robot_id, source, confidence, action, parameters, extract(epoch FROM created_at), "
               "extract(epoch FROM deadline), status, traceparent FROM decisions WHERE robot_id = %s "
               "AND status = 'pending' AND deadline > now() ORDER BY created_at LIMIT 100")
DECISION_SQL = ("SELECT decision_id, robot_id, source, confidence, action, parameters, extract(epoch FROM created_at), "
                "extract(epoch FROM deadline), status, traceparent FROM decisions WHERE decision_id::text = %s")


async def insert(conn: psycopg.AsyncConnection, *, robot_id: str, site_id: str, source: int, confidence: float,
                 action: str, parameters: dict[str, str], ttl_s: float, created_by: str) -> dict[str, Any]:
    """Create a pending decision due within `ttl_s` seconds; returns the stored row."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO decisions (decision_id, robot_id, site_id, source, confidence, action, parameters, deadline, "
        "created_by) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, now() + make_interval(secs => %s), %s) RETURNING *",
        (uuid.uuid4(), robot_id, site_id, source, confidence, action, orjson.dumps(parameters).decode(), ttl_s,
         created_by))
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row
    return row


async def insert_queued(conn: psycopg.AsyncConnection, *, decision_id: uuid.UUID, robot_id: str, site_id: str,
                        source: int, confidence: float, action: str, parameters: dict[str, str], ttl_s: float,
                        created_by: str) -> None:
    """`insert` with the id made by the caller and nothing read back: in pipeline mode it joins the statements sent
    with the next sync (the cognition worker's pass sends its writes and COMMIT in one round trip)."""
    await conn.execute(
        "INSERT INTO decisions (decision_id, robot_id, site_id, source, confidence, action, parameters, deadline, "
        "created_by) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, now() + make_interval(secs => %s), %s)",
        (decision_id, robot_id, site_id, source, confidence, action, orjson.dumps(parameters).decode(), ttl_s,
         created_by))


async def list_decisions(conn: psycopg.AsyncConnection, *, robot_id: str | None, status: str | None, limit: int,
                         offset: int) -> list[dict[str, Any]]:
    """Decisions visible to the caller, newest first (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM decisions WHERE (%(robot)s::text IS NULL OR robot_id = %(robot)s) "
        "AND (%(status)s::text IS NULL OR status = %(status)s) ORDER BY created_at DESC, decision_id "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {"robot": robot_id, "status": status, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def get(conn: psycopg.AsyncConnection, *, decision_id: uuid.UUID) -> dict[str, Any] | None:
    """One decision with its acknowledgement status (None when absent or hidden by RLS)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM decisions WHERE decision_id = %s", (decision_id,))
    return await cur.fetchone()


def device_view(row: tuple[Any, ...]) -> dict[str, Any]:
    """A decision as the device protocol carries it (id as text, times as UNIX seconds)."""
    item = dict(zip(DEVICE_KEYS, row, strict=True))
    item["decision_id"] = str(item["decision_id"])
    item["created_at"] = float(item["created_at"])
    item["deadline"] = float(item["deadline"])
    return item


async def pending_for(conn: psycopg.AsyncConnection, *, robot_id: str) -> list[dict[str, Any]]:
    """Pending, unexpired decisions of one robot, oldest first, in the device view."""
    return [device_view(r) for r in await (await conn.execute(PENDING_SQL, (robot_id,))).fetchall()]


async def lock_status(conn: psycopg.AsyncConnection, *, robot_id: str, decision_id: str) -> str | None:
    """The decision's status, row-locked until the transaction ends (None when not addressed to the robot)."""
    row = await (await conn.execute(
        "SELECT status FROM decisions WHERE robot_id = %s AND decision_id::text = %s FOR UPDATE",
        (robot_id, decision_id))).fetchone()
    return None if row is None else str(row[0])


async def acknowledge(conn: psycopg.AsyncConnection, *, robot_id: str, decision_id: str, status: str,
                      detail: str) -> None:
    """Record the robot's outcome."""
    await conn.execute("UPDATE decisions SET status = %s, acked_at = now(), ack_detail = %s "
                       "WHERE robot_id = %s AND decision_id::text = %s", (status, detail, robot_id, decision_id))


async def send_device_decision(conn: psycopg.AsyncConnection, *, decision_id: str) -> psycopg.AsyncCursor:
    """Queue the read of one decision in a pipeline; fetch the row (``device_view``) after the pipeline syncs."""
    return await conn.execute(DECISION_SQL, (decision_id,))


async def device_decision(conn: psycopg.AsyncConnection, *, decision_id: str) -> dict[str, Any] | None:
    """One decision in the device view."""
    row = await (await conn.execute(DECISION_SQL, (decision_id,))).fetchone()
    return None if row is None else device_view(row)
