"""Robot logs' SQL (migration 0061, docs/logs.md): a device's batch stored once per (robot, stream, seq), and the
queries people run over a robot's records or an incident's time window. RLS decides what each caller sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sigma_protocol.logs import DROP_REASONS, SEVERITIES

_INSERT = (
    "INSERT INTO robot_logs (robot_id, site_id, stream, seq, ts, severity, node, message, file, function, line, "
    "trace_id) SELECT %s, %s, %s, r.seq, to_timestamp(r.ts), r.severity, r.node, r.message, r.file, r.function, "
    "r.line, nullif(r.trace_id, '') FROM unnest(%s::bigint[], %s::float8[], %s::smallint[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::int[], %s::text[]) AS r(seq, ts, severity, node, message, file, function, line, "
    "trace_id)")


def merge_dropped(old: Mapping[str, Mapping[str, int]], new: Mapping[str, Mapping[str, int]]
                  ) -> dict[str, dict[str, int]]:
    """Cumulative drop counters: per reason and severity the larger value (a resent batch never doubles them)."""
    out = {r: dict(c) for r, c in old.items()}
    for reason, counts in new.items():
        mine = out.setdefault(reason, {})
        for name, n in counts.items():
            mine[name] = max(int(mine.get(name, 0)), int(n))
    return out


async def store_batch(conn: psycopg.AsyncConnection, *, robot_id: str, stream: int, records: Sequence[Mapping],
                      last_seq: int, refused: int, dropped: Mapping[str, Mapping[str, int]]) -> tuple[int, int, int]:
    """Store the records of `stream` above its high-water mark (as the device: RLS scopes it); advance the mark to
    `last_seq` (the batch's newest seq, valid or not). Returns (accepted, duplicates, acked_through)."""
    await conn.execute("INSERT INTO robot_log_streams (robot_id, site_id, stream) SELECT robot_id, site_id, %s "
                       "FROM robots WHERE robot_id = %s ON CONFLICT DO NOTHING", (stream, robot_id))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT site_id, acked_through, dropped FROM robot_log_streams WHERE robot_id = %s "
                      "AND stream = %s FOR UPDATE", (robot_id, stream))
    row = await cur.fetchone()
    assert row is not None  # the robot exists (it signed the request) and RLS lets it see its own row
    mark = int(row["acked_through"])
    new = [r for r in records if r["seq"] > mark]
    if new:
        days = sorted({dt.datetime.fromtimestamp(r["ts"], dt.timezone.utc).date() for r in new})
        for day in days:
            await conn.execute("SELECT robot_logs_partition(%s)", (day,))
        await conn.execute(_INSERT, (
            robot_id, row["site_id"], stream, [r["seq"] for r in new], [float(r["ts"]) for r in new],
            [r["severity"] for r in new], [r["node"] for r in new], [r["message"] for r in new],
            [r.get("file", "") for r in new], [r.get("function", "") for r in new], [r.get("line", 0) for r in new],
            [r.get("trace_id", "") for r in new]))
    through = max(mark, last_seq)
    span = (min(r["ts"] for r in new), max(r["ts"] for r in new)) if new else (None, None)
    await conn.execute(
        "UPDATE robot_log_streams SET acked_through = %s, records = records + %s, refused = refused + %s, "
        "dropped = %s, last_seen = now(), first_ts = least(first_ts, to_timestamp(%s)), "
        "last_ts = greatest(last_ts, to_timestamp(%s)) WHERE robot_id = %s AND stream = %s",
        (through, len(new), refused if last_seq > mark else 0, Jsonb(merge_dropped(row["dropped"], dropped)),
         span[0], span[1], robot_id, stream))
    return len(new), len(records) - len(new), through


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def records(conn: psycopg.AsyncConnection, *, robot_id: str, since: dt.datetime, until: dt.datetime,
                  min_severity: int, q: str | None, node: str | None, after: tuple[dt.datetime, int, int] | None,
                  limit: int, trace_id: str | None = None) -> list[dict[str, Any]]:
    """The robot's records in [since, until) at or above `min_severity`, oldest first, after the cursor `after`."""
    where = ["robot_id = %s", "ts >= %s", "ts < %s", "severity >= %s"]
    args: list[Any] = [robot_id, since, until, min_severity]
    if q:
        where.append("message ILIKE %s")
        args.append(_like(q))
    if node:
        where.append("node = %s")
        args.append(node)
    if trace_id:
        where.append("trace_id = %s")
        args.append(trace_id)
    if after is not None:
        where.append("(ts, stream, seq) > (%s, %s, %s)")
        args.extend(after)
    cur = conn.cursor(row_factory=dict_row)
    query = sql.SQL("SELECT ts, stream, seq, severity, node, message, file, function, line, trace_id, received_at "
                    "FROM robot_logs WHERE {} ORDER BY ts, stream, seq LIMIT %s").format(
        sql.SQL(" AND ").join(sql.SQL(w) for w in where))  # fixed fragments; every value is a parameter
    await cur.execute(query, (*args, limit))
    return await cur.fetchall()


async def dropped(conn: psycopg.AsyncConnection, *, robot_id: str, since: dt.datetime, until: dt.datetime
                  ) -> dict[str, dict[str, int]]:
    """What the robot's bridge dropped (reason -> severity -> count), over the streams whose stored records fall in
    the window (by the robot's stamps), and those without any record received since its start."""
    rows = await (await conn.execute(
        "SELECT dropped FROM robot_log_streams WHERE robot_id = %s AND ((first_ts < %s AND last_ts >= %s) "
        "OR (last_ts IS NULL AND last_seen >= %s))", (robot_id, until, since, since))).fetchall()
    total = {reason: {name: 0 for name in SEVERITIES.values()} for reason in DROP_REASONS}
    for (counts,) in rows:
        for reason, per in (counts or {}).items():
            for name, n in per.items():
                if reason in total and name in total[reason]:
                    total[reason][name] += int(n)
    return total


async def incident(conn: psycopg.AsyncConnection, *, incident_id: Any) -> dict[str, Any] | None:
    """The incident's robot and time (None when absent or outside the caller's sites)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT incident_id, robot_id, site_id, kind, at FROM incidents WHERE incident_id = %s",
                      (incident_id,))
    return await cur.fetchone()
