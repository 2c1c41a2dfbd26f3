"""Readiness: does the database answer."""

from __future__ import annotations

import psycopg


async def ping(conn: psycopg.AsyncConnection) -> None:
    """A round trip to the database (raises psycopg errors when it is unreachable)."""
    await conn.execute("SELECT 1")
