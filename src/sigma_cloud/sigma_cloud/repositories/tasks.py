"""Fleet tasks: the site's places, tasks and their transition history, the site's swarm leader (docs/tasks.md).
Task rows come back whole (`*`); the response models pick the public fields (never the idempotency key or hash)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row


async def replace_places(conn: psycopg.AsyncConnection, *, site_id: str, places: list[dict[str, Any]]) -> int:
    """Replace the site's map (its named places); returns how many it now has."""
    await conn.execute("DELETE FROM site_places WHERE site_id = %s", (site_id,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO site_places (site_id, name, kind, x, y) VALUES (%s, %s, %s, %s, %s)",
            [(site_id, p["name"], p["kind"], p["x"], p["y"]) for p in places])
    return len(places)


async def places(conn: psycopg.AsyncConnection, *, site_id: str) -> list[dict[str, Any]]:
    """The site's places by name."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT name, kind, x, y FROM site_places WHERE site_id = %s ORDER BY name", (site_id,))
    return await cur.fetchall()


async def by_idempotency_key(conn: psycopg.AsyncConnection, *, site_id: str, key: str) -> dict[str, Any] | None:
    """The task created earlier with this key at this site, with the hash of the request that created it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM tasks WHERE site_id = %s AND idempotency_key = %s",
                      (site_id, key))
    return await cur.fetchone()


async def insert(conn: psycopg.AsyncConnection, *, site_id: str, spec: dict[str, Any], created_by: str,
                 idempotency_key: str | None, request_hash: str | None) -> dict[str, Any] | None:
    """Create a queued task and its first history row; None when the idempotency key was taken concurrently."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO tasks (task_id, site_id, kind, pickup, dropoff, place, payload_kg, priority, earliest_start, "
        "deadline, created_by, idempotency_key, request_hash, reason) "
        "VALUES (%(id)s, %(site)s, %(kind)s, %(pickup)s, %(dropoff)s, %(place)s, %(payload_kg)s, %(priority)s, "
        "coalesce(%(earliest_start)s, now()), %(deadline)s, %(by)s, %(key)s, %(hash)s, 'created') "
        "ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING *",
        {**spec, "id": uuid.uuid4(), "site": site_id, "by": created_by, "key": idempotency_key,
         "hash": request_hash})
    row = await cur.fetchone()
    if row is not None:
        await add_transition(conn, task=row, to_state="queued", actor=created_by, reason="created")
    return row


async def add_transition(conn: psycopg.AsyncConnection, *, task: dict[str, Any], to_state: str, actor: str,
                         reason: str, from_state: str | None = None) -> None:
    """Append one history row."""
    await conn.execute(
        "INSERT INTO task_transitions (task_id, site_id, from_state, to_state, actor, reason, robot_id, term) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (task["task_id"], task["site_id"], from_state, to_state, actor, reason, task.get("robot_id"),
         task.get("term")))


async def move(conn: psycopg.AsyncConnection, *, task: dict[str, Any], to_state: str, actor: str,
               reason: str) -> dict[str, Any] | None:
    """Change a task's state if it is still in the state `task` was read in; records the transition.
    None when it changed meanwhile (the caller re-reads and decides again)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE tasks SET state = %s, reason = %s, updated_at = now() WHERE task_id = %s AND state = %s "
        "RETURNING *", (to_state, reason, task["task_id"], task["state"]))
    row = await cur.fetchone()
    if row is not None:
        await add_transition(conn, task=row, to_state=to_state, actor=actor, reason=reason, from_state=task["state"])
    return row


async def get(conn: psycopg.AsyncConnection, *, site_id: str, task_id: uuid.UUID,
              for_update: bool = False) -> dict[str, Any] | None:
    """One task of a site (None when absent or hidden by RLS)."""
    cur = conn.cursor(row_factory=dict_row)
    query = "SELECT * FROM tasks WHERE site_id = %s AND task_id = %s"
    await cur.execute(query + " FOR UPDATE" if for_update else query, (site_id, task_id))
    return await cur.fetchone()


async def history(conn: psycopg.AsyncConnection, *, task_id: uuid.UUID) -> list[dict[str, Any]]:
    """A task's transitions, oldest first."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT from_state, to_state, at, actor, reason, robot_id, term FROM task_transitions "
                      "WHERE task_id = %s ORDER BY id", (task_id,))
    return await cur.fetchall()


async def refused_reports(conn: psycopg.AsyncConnection, *, task_id: uuid.UUID, limit: int = 100
                         ) -> list[dict[str, Any]]:
    """Robots' reports the record refused (an older assignment than the current one, migration 0014), newest
    last; at most the latest `limit`."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT robot_id, state, report_ts, at, reason FROM (SELECT * FROM task_report_refusals "
                      "WHERE task_id = %s ORDER BY id DESC LIMIT %s) r ORDER BY id", (task_id, limit))
    return await cur.fetchall()


async def list_tasks(conn: psycopg.AsyncConnection, *, site_id: str, state: str | None, robot_id: str | None,
                     limit: int, offset: int) -> list[dict[str, Any]]:
    """A site's tasks, newest first (one more than `limit`, for paging)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM tasks WHERE site_id = %(site)s AND (%(state)s::text IS NULL OR state = %(state)s) "
        "AND (%(robot)s::text IS NULL OR robot_id = %(robot)s) ORDER BY created_at DESC, task_id "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {"site": site_id, "state": state, "robot": robot_id, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def leader(conn: psycopg.AsyncConnection, *, site_id: str) -> dict[str, Any] | None:
    """The site's current swarm leader (robot_id, term): the highest term a leader claimed (site_leaders) or its
    robots reported through their bridges (swarm_leaders); None when no active robot leads."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT l.robot_id, l.term FROM (SELECT robot_id, term FROM site_leaders WHERE site_id = %(site)s "
        "UNION ALL SELECT leader, term FROM swarm_leaders WHERE site_id = %(site)s) AS l "
        "JOIN robots r USING (robot_id) WHERE r.status = 'active' ORDER BY l.term DESC LIMIT 1", {"site": site_id})
    return await cur.fetchone()


async def claim_leadership(conn: psycopg.AsyncConnection, *, robot_id: str, term: int) -> bool:
    """As the device: record the robot as its site's leader for `term` (refused for an older term)."""
    row = await (await conn.execute("SELECT claim_site_leadership(%s, %s)", (robot_id, term))).fetchone()
    return bool(row and row[0])


async def open_tasks_for_device(conn: psycopg.AsyncConnection, *, robot_id: str) -> list[dict[str, Any]]:
    """As the device: the open tasks of its site, for a leader resuming from the cloud's record."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM open_site_tasks(%s)", (robot_id,))
    return await cur.fetchall()


class StaleTermError(Exception):
    """The leader's term is older than the site's current one, or it never claimed it (SQLSTATE SX409)."""


async def leader_task_outcome(conn: psycopg.AsyncConnection, *, robot_id: str, term: int, task_id: uuid.UUID,
                              outcome: str, reason: str) -> str:
    """As the device, the site's leader for `term`: apply one outcome (migration 0015); 'applied', 'unchanged' or
    'unknown'. Raises StaleTermError when the term is not the site's current leader's."""
    try:
        row = await (await conn.execute("SELECT leader_task_outcome(%s, %s, %s, %s, %s)",
                                        (robot_id, term, task_id, outcome, reason))).fetchone()
    except psycopg.Error as exc:
        if exc.sqlstate == "SX409":
            raise StaleTermError(exc.diag.message_primary or str(exc)) from exc
        raise
    return str(row[0]) if row else "unknown"


def decision_parameters(row: dict[str, Any]) -> dict[str, str]:
    """A task as decision parameters (strings, as the downlink carries them; TASK_CONTRACT names)."""
    params = {"task_id": str(row["task_id"]), "kind": row["kind"], "priority": str(row["priority"]),
              "payload_mass": f"{row['payload_kg']:g}", "earliest_start": f"{row['earliest_start'].timestamp():.3f}",
              "deadline": f"{row['deadline'].timestamp():.3f}" if row["deadline"] else ""}
    for key in ("pickup", "dropoff", "place"):
        if row[key]:
            params[key] = row[key]
    return params
