"""Fleet cognition's SQL: cursors and session memory, the evidence it reads, the actions it records, incidents."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

import sigma_protocol as protocol

CHANNEL_NAMES = {i: name for name, i in protocol.CHANNEL_IDS.items()}
LATE_SLACK_S = 60.0  # events stamped this much before the newest consumed one are still read (see docs/cognition.md)
WINDOW_SQL = ("SELECT channel, count(*), count(*) FILTER (WHERE score >= %(thr)s), max(score), "
              "min(extract(epoch FROM ts))::float8, max(extract(epoch FROM ts))::float8, "
              "min(extract(epoch FROM ts)) FILTER (WHERE score >= %(thr)s)::float8, "
              "max(extract(epoch FROM ts)) FILTER (WHERE score >= %(thr)s)::float8 FROM telemetry "
              "WHERE robot_id = %(r)s AND ts >= to_timestamp(%(since)s) AND seq > %(after)s AND seq <= %(head)s "
              "GROUP BY channel")
SAFETY_SQL = ("SELECT seq, extract(epoch FROM ts)::float8 AS ts, coalesce(level, 0) AS level, cause, "
              "payload -> 'raised' AS raised, payload ->> 'recording' AS recording "
              "FROM safety_events WHERE robot_id = %s AND seq > %s AND seq <= %s ORDER BY seq LIMIT 1000")
LATEST_SQL = "SELECT channel, extract(epoch FROM ts)::float8, payload FROM robot_latest WHERE robot_id = %s"
# = repositories/notifications.open_tasks_of: the tasks the robot holds, locked for the hand-back
HELD_TASKS_SQL = ("SELECT * FROM tasks WHERE robot_id = %s AND state IN ('assigned', 'in_progress') "
                  "ORDER BY priority DESC, created_at FOR UPDATE")


async def ensure_cursors(conn: psycopg.AsyncConnection) -> None:
    """A cursor for every robot heard from (new robots start at their current head: history is not re-decided)."""
    await conn.execute(
        "INSERT INTO cognition_cursor (robot_id, site_id, last_seq, last_ts) "
        "SELECT s.robot_id, s.site_id, s.last_seq, coalesce((SELECT max(extract(epoch FROM l.ts)) FROM robot_latest l "
        "WHERE l.robot_id = s.robot_id), 0) FROM robot_ingest_state s "
        "WHERE NOT EXISTS (SELECT 1 FROM cognition_cursor c WHERE c.robot_id = s.robot_id) "
        "ON CONFLICT DO NOTHING")


CLAIM_SQL = ("SELECT c.robot_id, c.site_id, c.last_seq, c.last_ts, c.memory, s.last_seq AS head "
             "FROM cognition_cursor c JOIN robot_ingest_state s USING (robot_id) JOIN robots r USING (robot_id) "
             "WHERE s.last_seq > c.last_seq AND r.status = 'active' {alert}"
             "ORDER BY c.updated_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED")
# An alert: since the cursor, the newest event of a channel scored at/above the threshold (robot_latest: a few rows per
# robot, kept by the ingest) or a safety event arrived. Cheap to test (primary keys), unlike the new telemetry itself.
ALERT_SQL = ("AND (EXISTS (SELECT 1 FROM robot_latest l WHERE l.robot_id = c.robot_id AND l.seq > c.last_seq "
             "AND l.score >= %(thr)s) OR EXISTS (SELECT 1 FROM safety_events e WHERE e.robot_id = c.robot_id "
             "AND e.seq > c.last_seq)) ")


async def claim(conn: psycopg.AsyncConnection, *, alert_threshold: float | None = None) -> dict[str, Any] | None:
    """One robot with telemetry the cognition has not consumed, row-locked for this transaction; robots another
    worker holds are skipped (SKIP LOCKED), so several workers share the fleet. With `alert_threshold`: only a robot
    with an alert in its new data (a channel's newest event scored at/above it, or a safety event) — the alert claim
    loop's, which never waits behind routine passes (docs/cognition.md "Decision latency")."""
    cur = conn.cursor(row_factory=dict_row)
    if alert_threshold is None:
        await cur.execute(CLAIM_SQL.format(alert=""))
    else:
        await cur.execute(CLAIM_SQL.format(alert=ALERT_SQL), {"thr": alert_threshold})
    return await cur.fetchone()


def _window_rows(rows: list[Any]) -> list[tuple[str, int, int, float, float, float, float | None, float | None]]:
    """Per channel: name, events, events at/above the threshold, peak score, first/last event time, first/last
    anomalous event time (None without one)."""
    return [(CHANNEL_NAMES.get(ch, str(ch)), int(n), int(high), float(peak), float(t0), float(t1),
             None if h0 is None else float(h0), None if h1 is None else float(h1))
            for ch, n, high, peak, t0, t1, h0, h1 in rows]


async def latest(conn: psycopg.AsyncConnection, *, robot_id: str) -> dict[str, tuple[float, Any]]:
    """The newest payload per channel name: (ts, payload)."""
    rows = await (await conn.execute(LATEST_SQL, (robot_id,))).fetchall()
    return {CHANNEL_NAMES.get(ch, str(ch)): (float(ts), payload) for ch, ts, payload in rows}


async def evidence(conn: psycopg.AsyncConnection, *, robot_id: str, after_seq: int, head: int, since_ts: float,
                   threshold: float) -> tuple[list[tuple[str, int, int, float, float, float]], list[dict[str, Any]],
                                              dict[str, tuple[float, Any]], list[dict[str, Any]]]:
    """`window`, `safety_events`, `latest` and the robot's held tasks (locked for a hand-back) in one round trip (a
    pipeline): the reads of a worker pass are on the decision's path (docs/cognition.md "Decision latency")."""
    async with conn.pipeline():
        w, e, latest_cur = conn.cursor(), conn.cursor(row_factory=dict_row), conn.cursor()
        held_cur = conn.cursor(row_factory=dict_row)
        await w.execute(WINDOW_SQL, {"r": robot_id, "since": since_ts - LATE_SLACK_S, "after": after_seq,
                                     "head": head, "thr": threshold})
        await e.execute(SAFETY_SQL, (robot_id, after_seq, head))
        await latest_cur.execute(LATEST_SQL, (robot_id,))
        await held_cur.execute(HELD_TASKS_SQL, (robot_id,))
        rows, events, latest_rows = await w.fetchall(), await e.fetchall(), await latest_cur.fetchall()
        held = await held_cur.fetchall()
    return (_window_rows(rows), events,
            {CHANNEL_NAMES.get(ch, str(ch)): (float(ts), payload) for ch, ts, payload in latest_rows}, held)


async def scores_between(conn: psycopg.AsyncConnection, *, robot_id: str, start: float, end: float,
                         limit: int = 5000) -> list[tuple[float, str, float]]:
    """(ts, channel, score) of the robot's telemetry in [start, end] (for a signature)."""
    rows = await (await conn.execute(
        "SELECT extract(epoch FROM ts)::float8, channel, score FROM telemetry WHERE robot_id = %s "
        "AND ts BETWEEN to_timestamp(%s) AND to_timestamp(%s) ORDER BY ts LIMIT %s",
        (robot_id, start, end, limit))).fetchall()
    return [(float(ts), CHANNEL_NAMES.get(ch, str(ch)), float(score)) for ts, ch, score in rows]


async def advance(conn: psycopg.AsyncConnection, *, robot_id: str, last_seq: int, last_ts: float,
                  memory: dict[str, Any]) -> None:
    """Move the robot's cursor and store its session memory."""
    await conn.execute("UPDATE cognition_cursor SET last_seq = %s, last_ts = %s, memory = %s::jsonb, "
                       "updated_at = now() WHERE robot_id = %s",
                       (last_seq, last_ts, orjson.dumps(memory).decode(), robot_id))


async def record_action(conn: psycopg.AsyncConnection, *, robot_id: str, site_id: str, rule: str, action: str,
                        decision_id: uuid.UUID | None, confidence: float, explanation: str,
                        evidence: dict[str, Any]) -> None:
    """Append one act of the Primary AI with its explanation and evidence (nothing read back: in pipeline mode it
    goes with the pass's other writes)."""
    await conn.execute(
        "INSERT INTO cognition_actions (robot_id, site_id, rule, action, decision_id, confidence, explanation, "
        "evidence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
        (robot_id, site_id, rule, action, decision_id, confidence, explanation[:4000],
         orjson.dumps(evidence, option=orjson.OPT_SERIALIZE_NUMPY).decode()))


async def action_of_decision(conn: psycopg.AsyncConnection, *, decision_id: uuid.UUID) -> dict[str, Any] | None:
    """The explanation and evidence of a decision the Primary AI made (None: not one of its decisions, or hidden)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM cognition_actions WHERE decision_id = %s", (decision_id,))
    return await cur.fetchone()


async def list_actions(conn: psycopg.AsyncConnection, *, robot_id: str | None, limit: int, offset: int
                       ) -> list[dict[str, Any]]:
    """Acts of the Primary AI visible to the caller, newest first (one more than `limit`)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM cognition_actions WHERE (%(r)s::text IS NULL OR robot_id = %(r)s) "
                      "ORDER BY action_id DESC LIMIT %(limit)s OFFSET %(offset)s",
                      {"r": robot_id, "limit": limit + 1, "offset": offset})
    return await cur.fetchall()


async def memory_of(conn: psycopg.AsyncConnection, *, robot_id: str) -> dict[str, Any] | None:
    """A robot's cursor and session memory (None: unknown or hidden)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT robot_id, site_id, last_seq, last_ts, memory, updated_at FROM cognition_cursor "
                      "WHERE robot_id = %s", (robot_id,))
    return await cur.fetchone()


async def site_memories(conn: psycopg.AsyncConnection, *, site_id: str) -> list[dict[str, Any]]:
    """Cursors of a site's robots (for the site-level zone rule), locked so two workers do not both act."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT robot_id, memory FROM cognition_cursor WHERE site_id = %s ORDER BY robot_id "
                      "FOR UPDATE SKIP LOCKED", (site_id,))
    return await cur.fetchall()


async def set_memory(conn: psycopg.AsyncConnection, *, robot_id: str, memory: dict[str, Any]) -> None:
    """Store a robot's session memory."""
    await conn.execute("UPDATE cognition_cursor SET memory = %s::jsonb WHERE robot_id = %s",
                       (orjson.dumps(memory).decode(), robot_id))


async def running_tasks(conn: psycopg.AsyncConnection, *, site_id: str) -> list[dict[str, Any]]:
    """Tasks in progress at a site."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM tasks WHERE site_id = %s AND state = 'in_progress' AND robot_id IS NOT NULL",
                      (site_id,))
    return await cur.fetchall()


async def sites_with_human_events(conn: psycopg.AsyncConnection, *, since: float) -> list[str]:
    """Sites where some robot's memory holds a person-related safety event newer than `since`."""
    rows = await (await conn.execute(
        "SELECT DISTINCT site_id FROM cognition_cursor, jsonb_array_elements(memory -> 'human_events') AS e "
        "WHERE jsonb_typeof(memory -> 'human_events') = 'array' AND (e ->> 0)::float8 >= %s", (since,))).fetchall()
    return [r[0] for r in rows]
