"""The fast path's transaction in two round trips (issue 16, round 7; core/ingest.py `_copy_two_round_trips`): one
simple query (identity; ingest_once(); role sigma_ingest; COPY) and the COPY's data, committed by the implicit
transaction. Each branch shown against the database: stored and committed; the mark moved across the batch (CopyFail:
nothing written, the nonce not kept, the connection idle and usable); a replayed nonce refused as before; values with
quotes carried exactly by the literals."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
import psycopg
import pytest
from psycopg.pq import TransactionStatus

import sigma_protocol as protocol
from sigma_cloud.core.ingest import IngestService, PreparedBatch

BATTERY = protocol.CHANNEL_IDS["battery"]
SAFETY = protocol.CHANNEL_IDS["safety_event"]


def _batch(first: int, n: int, now: float) -> PreparedBatch:
    """n battery events from seq `first`, the last one a safety event whose cause has quotes and a backslash."""
    payloads = [orjson.dumps({"voltage": 48.0 + i * 0.25, "current": 3.0}) for i in range(n - 1)]
    payloads.append(orjson.dumps({"level": 2, "previous_level": 0, "authority": 1, "previous_authority": 0,
                                  "sequence": 1, "cause": "it's a \"quote\", a \\ and é"}))
    channels = np.array([BATTERY] * (n - 1) + [SAFETY], dtype=np.int16)
    return PreparedBatch(list(range(first, first + n)), [now + i * 1e-3 for i in range(n)], channels, payloads,
                         np.linspace(0.0, 1.5, n, dtype=np.float32), {}, [n - 1, n])


def _stored(cloud, robot_id: str) -> tuple:
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        rows = conn.execute("SELECT seq, payload, score FROM telemetry WHERE robot_id = %s ORDER BY seq",
                            (robot_id,)).fetchall()
        mark = conn.execute("SELECT last_seq, events_total FROM robot_ingest_state WHERE robot_id = %s",
                            (robot_id,)).fetchone()
        latest = conn.execute("SELECT channel, seq, payload FROM robot_latest WHERE robot_id = %s ORDER BY channel",
                              (robot_id,)).fetchall()
        safety = conn.execute("SELECT seq, cause FROM safety_events WHERE robot_id = %s", (robot_id,)).fetchall()
        nonces = conn.execute("SELECT nonce FROM ingest_nonces WHERE robot_id = %s ORDER BY nonce",
                              (robot_id,)).fetchall()
    return rows, mark, latest, safety, [n for (n,) in nonces]


def test_two_round_trips_store_commit_and_fail_closed(cloud) -> None:
    robot = cloud.robot("two-trips-1")
    r = cloud.post_batch(robot, robot.events(5, time.time()))  # durable through seq 5 (a small batch)
    assert r.status_code == 200 and r.json()["acked_through"] == 5, r.text

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(cloud.runtime.api_url, autocommit=True) as conn:
            two = IngestService._copy_two_round_trips
            # The mark moved across the batch (the API cut at 2, the database is at 5): the COPY is failed, nothing
            # is written, the nonce is not kept (the same nonce is accepted below), the connection stays usable.
            assert await two(conn, robot.robot_id, "n-1", 2, _batch(3, 10, time.time()), "") is None
            assert conn.pgconn.transaction_status == TransactionStatus.IDLE
            assert _stored(cloud, robot.robot_id)[1] == (5, 5)
            # The right cut: stored and committed in two round trips.
            batch = _batch(6, 10, time.time())
            assert await two(conn, robot.robot_id, "n-1", 5, batch, "00-" + "a" * 32 + "-" + "b" * 16 + "-01") \
                == (10, 15)
            assert conn.pgconn.transaction_status == TransactionStatus.IDLE
            # A replayed nonce: refused as by the parameterized path, nothing written, the connection usable.
            with pytest.raises(psycopg.errors.UniqueViolation):
                await two(conn, robot.robot_id, "n-1", 15, _batch(16, 3, time.time()), "")
            assert conn.pgconn.transaction_status == TransactionStatus.IDLE
            assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)

    asyncio.run(run())
    rows, mark, latest, safety, nonces = _stored(cloud, robot.robot_id)
    assert [seq for seq, _, _ in rows] == list(range(1, 16))
    sent = _batch(6, 10, 0.0)
    assert [p for _, p, _ in rows[5:]] == [orjson.loads(p) for p in sent.payloads]
    assert [s for _, _, s in rows[5:]] == pytest.approx(sent.scores.tolist(), rel=1e-6)
    assert mark == (15, 15)
    assert [(c, s) for c, s, _ in latest] == [(BATTERY, 14), (SAFETY, 15)]
    assert safety == [(15, "it's a \"quote\", a \\ and é")]
    assert "n-1" in nonces
    with psycopg.connect(cloud.runtime.owner_url) as conn:
        trace = conn.execute("SELECT last_traceparent FROM robot_ingest_state WHERE robot_id = %s",
                             (robot.robot_id,)).fetchone()[0]
    assert trace == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def test_values_a_literal_cannot_carry_take_the_parameterized_path(cloud) -> None:
    robot = cloud.robot("two-trips-2")

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(cloud.runtime.api_url, autocommit=True) as conn:
            batch = _batch(1, 3, time.time())
            batch.payloads[1] = b'{"voltage":48.0,"current":3.0,"x":"\x00"}'  # a NUL byte: not sent at all
            assert await IngestService._copy_two_round_trips(conn, robot.robot_id, "n-2", None, batch, "") is None

    asyncio.run(run())
    rows, mark, _, _, nonces = _stored(cloud, robot.robot_id)
    assert rows == [] and mark[0] == 0 and nonces == []
