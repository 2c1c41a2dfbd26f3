"""The cloud's own log records' SQL (migration 0063, docs/logs.md): queries over `service_logs` by time, service,
process, robot and trace, and a trace's records across the robots' and the cloud's logs. RLS decides what each
caller sees (the fleet admin all; site managers and operators the records about their sites' robots)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from sigma_cloud.repositories.logs import _like

_SELECT = ("SELECT id, ts, service, instance, severity, logger, message, robot_id, trace_id, span_id, request_id, "
           "extra, received_at FROM service_logs WHERE {} ORDER BY ts, id LIMIT %s")


async def records(conn: psycopg.AsyncConnection, *, since: dt.datetime, until: dt.datetime, min_severity: int,
                  service: str | None = None, instance: str | None = None, robot_id: str | None = None,
                  trace_id: str | None = None, q: str | None = None, after: tuple[dt.datetime, int] | None = None,
                  limit: int = 200) -> list[dict[str, Any]]:
    """Cloud records in [since, until) at or above `min_severity` matching the filters, oldest first by (ts, id),
    after the keyset cursor `after`."""
    where = ["ts >= %s", "ts < %s", "severity >= %s"]
    args: list[Any] = [since, until, min_severity]
    for column, value in (("service", service), ("instance", instance), ("robot_id", robot_id),
                          ("trace_id", trace_id)):
        if value:
            where.append(f"{column} = %s")
            args.append(value)
    if q:
        where.append("message ILIKE %s")
        args.append(_like(q))
    if after is not None:
        where.append("(ts, id) > (%s, %s)")
        args.extend(after)
    query = sql.SQL(_SELECT).format(
        sql.SQL(" AND ").join(sql.SQL(w) for w in where))  # fixed fragments; every value is a parameter
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, (*args, limit))
    return await cur.fetchall()


async def robot_records_of_trace(conn: psycopg.AsyncConnection, *, trace_id: str, since: dt.datetime,
                                 until: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """The robots' records (robot_logs) that carry `trace_id`, in [since, until), oldest first."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT robot_id, ts, stream, seq, severity, node, message, file, function, line, trace_id, "
                      "received_at FROM robot_logs WHERE trace_id = %s AND ts >= %s AND ts < %s "
                      "ORDER BY ts, stream, seq LIMIT %s", (trace_id, since, until, limit))
    return await cur.fetchall()
