"""Device-authenticated access: act as the robot (RLS identity) and claim a request nonce (replay protection)."""

from __future__ import annotations

import psycopg

from sigma_cloud.core.db import identity_params
from sigma_cloud.core.ingest import IDENTITY_SQL, device_principal

# one row inserted = a fresh nonce; none = a replay (the decision ack sends it in a pipeline, api/routes/devices.py)
CLAIM_NONCE_SQL = "INSERT INTO ingest_nonces (robot_id, nonce) VALUES (%s, %s) ON CONFLICT DO NOTHING"


async def act_as(conn: psycopg.AsyncConnection, *, robot_id: str) -> None:
    """Scope the transaction to the robot's own rows (row-level security)."""
    await conn.execute(IDENTITY_SQL, identity_params(device_principal(robot_id)))


async def claim_nonce(conn: psycopg.AsyncConnection, *, robot_id: str, nonce: str) -> bool:
    """Record the request nonce; False when it was already used (a replay). One round trip (no savepoint: a
    used nonce is a row not inserted, not an error): every long-poll of a fleet claims one (docs/cloud.md)."""
    cur = await conn.execute(CLAIM_NONCE_SQL, (robot_id, nonce))
    return cur.rowcount == 1


async def send_nonce_claim(conn: psycopg.AsyncConnection, *, robot_id: str, nonce: str) -> psycopg.AsyncCursor:
    """Queue the nonce claim in a pipeline; the returned cursor's ``rowcount`` is 1 for a fresh nonce once the
    pipeline has synced (api/routes/devices.py, the decision ack)."""
    return await conn.execute(CLAIM_NONCE_SQL, (robot_id, nonce))
