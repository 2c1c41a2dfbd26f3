"""Silence episodes and site notifications (automated incident response, docs/runbooks/robot-silent.md)."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from sigma_cloud.core.silence import Episode, RobotSeen
from sigma_cloud.repositories import tasks


async def robots_seen(conn: psycopg.AsyncConnection) -> list[RobotSeen]:
    """Every active robot with its last contact."""
    rows = await (await conn.execute(
        "SELECT r.robot_id, r.site_id, extract(epoch FROM s.last_seen), extract(epoch FROM r.registered_at) "
        "FROM robots r LEFT JOIN robot_ingest_state s USING (robot_id) WHERE r.status = 'active'")).fetchall()
    return [RobotSeen(robot, site, float(seen) if seen is not None else None, float(registered))
            for robot, site, seen, registered in rows]


async def open_episodes(conn: psycopg.AsyncConnection) -> dict[str, Episode]:
    """Silence episodes not yet ended, by robot."""
    rows = await (await conn.execute("SELECT robot_id, site_id, extract(epoch FROM since) FROM silence_episodes "
                                     "WHERE ended_at IS NULL")).fetchall()
    return {robot: Episode(robot, site, float(since)) for robot, site, since in rows}


async def open_episode(conn: psycopg.AsyncConnection, *, robot: RobotSeen) -> bool:
    """Record that the robot fell silent; False when another replica recorded it first."""
    cur = await conn.execute(
        "INSERT INTO silence_episodes (robot_id, site_id, since) VALUES (%s, %s, to_timestamp(%s)) "
        "ON CONFLICT DO NOTHING RETURNING 1", (robot.robot_id, robot.site_id, robot.heard))
    return await cur.fetchone() is not None


async def close_episode(conn: psycopg.AsyncConnection, *, episode: Episode) -> bool:
    """End the robot's open episode; False when it was already ended."""
    cur = await conn.execute("UPDATE silence_episodes SET ended_at = now() WHERE robot_id = %s AND ended_at IS NULL "
                             "RETURNING 1", (episode.robot_id,))
    return await cur.fetchone() is not None


async def open_tasks_of(conn: psycopg.AsyncConnection, *, robot_id: str) -> list[dict[str, Any]]:
    """Tasks the robot holds (assigned or in progress), locked for the hand-back."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM tasks WHERE robot_id = %s AND state IN ('assigned', 'in_progress') "
                      "ORDER BY priority DESC, created_at FOR UPDATE", (robot_id,))
    return await cur.fetchall()


async def requeue(conn: psycopg.AsyncConnection, *, task: dict[str, Any], actor: str, reason: str,
                  keep_away_s: float | None = None) -> dict[str, Any] | None:
    """Take a task back from its robot into the queue (as a robot's own give-up does); None if it changed meanwhile.

    ``held_since`` becomes the time of the take-back (``clock_timestamp()``: the decision's transaction may have
    started before reports now arriving were stamped): a report stamped before it (the robot's "in progress" still
    on its way up when the cloud took the task away) is refused and logged as older than the current assignment
    (0014's rule) instead of handing the task back to the robot it was taken from. Robot and cloud clocks are assumed
    synchronised (NTP/PTP).

    ``keep_away_s`` (a take-back from a degraded robot, whose leader is told to keep the task away from it): for
    that long the robot's ACCEPTED / ACTIVE reports under the term it held the task in, or an older one, are refused
    too, also those stamped after the take-back but before the leader's cancel reached the robot (migration 0017);
    a newer leader term's assignment applies as before. None (a robot that fell silent): the time rule alone."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE tasks SET state = 'queued', robot_id = NULL, term = NULL, reason = %(reason)s, "
        "held_since = clock_timestamp(), updated_at = now(), "
        "taken_from = CASE WHEN %(away)s::float8 IS NULL THEN taken_from ELSE taken_from || jsonb_build_object("
        "%(robot)s::text, jsonb_build_object('term', greatest(coalesce(term, 0), report_term), "
        "'until', clock_timestamp() + make_interval(secs => %(away)s::float8))) END "
        "WHERE task_id = %(task)s AND state = %(state)s RETURNING *",
        {"reason": reason, "away": keep_away_s, "robot": task["robot_id"], "task": task["task_id"],
         "state": task["state"]})
    row = await cur.fetchone()
    if row is not None:  # the history names the robot it was taken from
        await tasks.add_transition(conn, task={**row, "robot_id": task["robot_id"], "term": task["term"]},
                                   to_state="queued", actor=actor, reason=reason, from_state=task["state"])
    return row


async def notify(conn: psycopg.AsyncConnection, *, site_id: str, robot_id: str | None, kind: str, message: str,
                 details: dict[str, Any]) -> None:
    """One notification for the site's managers and operators."""
    await conn.execute("INSERT INTO notifications (site_id, robot_id, kind, message, details) "
                       "VALUES (%s, %s, %s, %s, %s::jsonb)",
                       (site_id, robot_id, kind, message, orjson.dumps(details).decode()))


async def list_notifications(conn: psycopg.AsyncConnection, *, site_id: str, after_id: int, limit: int
                             ) -> list[dict[str, Any]]:
    """A site's notifications with id > after_id, newest first (RLS: only the caller's sites)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT id, site_id, robot_id, kind, message, details, created_at FROM notifications "
                      "WHERE site_id = %s AND id > %s ORDER BY id DESC LIMIT %s", (site_id, after_id, limit))
    return await cur.fetchall()
