"""Telemetry of one robot over a time range (raw or downsampled in the database) and the archive catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

RAW_SQL = ("SELECT ts, channel, seq, 1 AS count, score, payload FROM telemetry WHERE robot_id = %(robot)s "
           "AND ts >= %(start)s AND ts < %(end)s AND (%(channel)s::smallint IS NULL OR channel = %(channel)s) "
           "ORDER BY ts, seq LIMIT %(limit)s")
BUCKETED_SQL = ("SELECT date_bin(make_interval(secs => %(bucket)s), ts, to_timestamp(0)) AS ts, channel, "
                "max(seq) AS seq, count(*) AS count, max(score) AS score, "
                "(array_agg(payload ORDER BY seq DESC))[1] AS payload FROM telemetry WHERE robot_id = %(robot)s "
                "AND ts >= %(start)s AND ts < %(end)s AND (%(channel)s::smallint IS NULL OR channel = %(channel)s) "
                "GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s")


async def events(conn: psycopg.AsyncConnection, *, robot_id: str, start: dt.datetime, end: dt.datetime,
                 channel: int | None, bucket_s: float | None, limit: int) -> list[dict[str, Any]]:
    """Events in [start, end), oldest first, or per-bucket aggregates (last payload, max score) when bucketed."""
    params: dict[str, Any] = {"robot": robot_id, "start": start, "end": end, "channel": channel, "bucket": bucket_s,
                              "limit": limit}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(BUCKETED_SQL if bucket_s else RAW_SQL, params)
    return await cur.fetchall()


async def archived_days(conn: psycopg.AsyncConnection, *, first: dt.date, last: dt.date) -> list[tuple[dt.date, str]]:
    """(day, archive URL) of every archived day in [first, last]."""
    cur = await conn.execute("SELECT day, url FROM archive_catalog WHERE day >= %s AND day <= %s ORDER BY day",
                             (first, last))
    return [(day, url) for day, url in await cur.fetchall()]
