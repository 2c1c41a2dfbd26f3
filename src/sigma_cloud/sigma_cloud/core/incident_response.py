"""Automated incident response, run by every replica (one pass at a time across the deployment): robots that fell
silent are announced to their site's managers and their open tasks go back to the queue (and to the site's swarm
leader) for re-allocation; robots heard again are announced too. Decisions come from core/silence.py."""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
from psycopg_pool import AsyncConnectionPool

from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import Principal, transaction
from sigma_cloud.core.silence import back_message, plan, silent_message
from sigma_cloud.repositories import decisions, notifications
from sigma_cloud.repositories import tasks as task_repo

log = logging.getLogger("sigma_cloud.incident_response")
ACTOR = Principal(subject="system:incident-response", role="fleet_admin")
INCIDENT_LOCK = 7_281_003
LEADER_DECISION_TTL_S = 600.0  # as for a new task (api/routes/tasks.py)


async def run_once(pool: AsyncConnectionPool, settings: Settings, now: float | None = None) -> dict[str, list[str]]:
    """One pass; returns the robots announced silent and back. Skips when another replica's pass is running."""
    now = time.time() if now is None else now
    silent: list[str] = []
    back: list[str] = []
    async with transaction(pool, ACTOR) as conn:
        got = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (INCIDENT_LOCK,))).fetchone()
        if not got or not got[0]:
            return {"silent": [], "back": [], "skipped": ["another replica holds the incident-response lock"]}
        todo = plan(await notifications.robots_seen(conn), await notifications.open_episodes(conn), now,
                    settings.robot_silent_after_s)
        for robot in todo.went_silent:
            if not await notifications.open_episode(conn, robot=robot):
                continue
            held = await notifications.open_tasks_of(conn, robot_id=robot.robot_id)
            reason = f"robot {robot.robot_id} silent for {now - robot.heard:.0f} s (incident response)"
            requeued = []
            for task in held:
                row = await notifications.requeue(conn, task=task, actor=ACTOR.subject, reason=reason)
                if row is not None:
                    requeued.append(row)
            lead = await task_repo.leader(conn, site_id=robot.site_id)
            leader_id = lead["robot_id"] if lead is not None and lead["robot_id"] != robot.robot_id else None
            leader_told = bool(requeued) and leader_id is not None
            if leader_id is not None:
                for row in requeued:
                    # the same decision a new task sends: the leader allocates it again (docs/tasks.md)
                    await decisions.insert(conn, robot_id=leader_id, site_id=robot.site_id, source=2,
                                           confidence=1.0, action="fleet_task",
                                           parameters=task_repo.decision_parameters(row),
                                           ttl_s=LEADER_DECISION_TTL_S, created_by=ACTOR.subject)
            await notifications.notify(conn, site_id=robot.site_id, robot_id=robot.robot_id, kind="robot_silent",
                                       message=silent_message(robot, now, len(requeued)),
                                       details={"last_seen": robot.last_seen, "leader_told": leader_told,
                                                "requeued_tasks": [str(r["task_id"]) for r in requeued]})
            silent.append(robot.robot_id)
        for episode in todo.came_back:
            if await notifications.close_episode(conn, episode=episode):
                await notifications.notify(conn, site_id=episode.site_id, robot_id=episode.robot_id,
                                           kind="robot_back", message=back_message(episode, now), details={})
                back.append(episode.robot_id)
    if silent or back:
        log.info("incident response: silent %s, back %s", silent, back)
    return {"silent": silent, "back": back}


async def loop(pool: AsyncConnectionPool, settings: Settings) -> None:
    """Run a pass every incident_check_interval_s until cancelled; failures are logged and retried."""
    while True:
        try:
            await run_once(pool, settings)
        except (psycopg.Error, OSError) as exc:
            log.warning("incident-response pass failed: %s", exc)
        await asyncio.sleep(settings.incident_check_interval_s)
