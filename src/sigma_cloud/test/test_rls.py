"""Row-level security, enforced by PostgreSQL itself: every role against every table (reads and writes)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params

ADMIN = Principal("admin", "fleet_admin")
MANAGER_A = Principal("manager-a", "site_manager", ("rls-a",))
OPERATOR_A = Principal("operator-a", "operator", ("rls-a",))
DEVICE_A = Principal("device:rls-ra", "device", robot_id="rls-ra")
TABLES = ["sites", "fleets", "robots", "robot_ingest_state", "telemetry", "robot_latest", "safety_events",
          "decisions", "audit_log", "archive_catalog", "ingest_nonces"]


@pytest.fixture(scope="module")
def seeded(cloud) -> dict:
    """Two sites with one robot each, telemetry, a safety event, a decision and audit entries at both."""
    now = time.time()
    for site, robot_id in (("rls-a", "rls-ra"), ("rls-b", "rls-rb")):
        robot = cloud.robot(robot_id, site)
        safety = {"seq": 4, "ts": now, "channel": "safety_event",
                  "payload": {"level": 1, "previous_level": 0, "cause": "test"}}
        events = [*robot.events(3, now), safety]
        assert cloud.post_batch(robot, events).status_code == 200
        r = cloud.http.post("/v1/decisions", headers=cloud.token(), json={
            "robot_id": robot_id, "action": "hold", "confidence": 0.9, "ttl_s": 600})
        assert r.status_code == 201, r.text
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO fleets (fleet_id, site_id, name) VALUES ('fa', 'rls-a', 'A'), ('fb', 'rls-b', 'B') "
                     "ON CONFLICT DO NOTHING")
    return {"a": "rls-a", "b": "rls-b"}


@pytest.fixture
def as_role(cloud) -> Iterator:
    conn = psycopg.connect(cloud.runtime.api_url, autocommit=True)

    def run(principal: Principal, sql: str, params: tuple = ()) -> list[tuple]:
        with conn.transaction():
            conn.execute(IDENTITY_SQL, identity_params(principal))
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else [(cur.rowcount,)]

    yield run
    conn.close()


def _scope(run, principal: Principal, table: str) -> set[str]:
    """What the principal can see of a table, as the set of sites (or robots for robot-only tables)."""
    column = {"archive_catalog": "'catalog'", "ingest_nonces": "robot_id"}.get(table, "site_id")
    rows = run(principal, f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")
    return {r[0] for r in rows} & {"rls-a", "rls-b", "rls-ra", "rls-rb", "catalog"}


@pytest.mark.parametrize("table", [t for t in TABLES if t not in ("archive_catalog", "ingest_nonces")])
def test_reads_by_role(seeded, as_role, table: str) -> None:
    assert _scope(as_role, ADMIN, table) == {"rls-a", "rls-b"}
    assert _scope(as_role, MANAGER_A, table) == {"rls-a"}
    assert _scope(as_role, OPERATOR_A, table) == {"rls-a"}


def test_device_reads_only_its_own_rows(seeded, as_role) -> None:
    assert {r[0] for r in as_role(DEVICE_A, "SELECT robot_id FROM robots")} == {"rls-ra"}
    assert {r[0] for r in as_role(DEVICE_A, "SELECT robot_id FROM decisions")} == {"rls-ra"}
    assert {r[0] for r in as_role(DEVICE_A, "SELECT robot_id FROM robot_latest")} == {"rls-ra"}
    for table in ("telemetry", "safety_events", "sites", "fleets", "audit_log", "archive_catalog"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(DEVICE_A, f"SELECT count(*) FROM {table}")


def test_writes_outside_scope_are_refused(seeded, as_role) -> None:
    refused = [
        (OPERATOR_A, "INSERT INTO robots (robot_id, site_id, public_key) VALUES ('x1', 'rls-a', 'k')"),
        (OPERATOR_A, "UPDATE decisions SET status = 'applied'"),
        (OPERATOR_A, "INSERT INTO sites (site_id, name) VALUES ('x', 'x')"),
        (MANAGER_A, "INSERT INTO robots (robot_id, site_id, public_key) VALUES ('x2', 'rls-b', 'k')"),
        (MANAGER_A, "INSERT INTO sites (site_id, name) VALUES ('x', 'x')"),
        (MANAGER_A, "INSERT INTO audit_log (actor, action, site_id, prev_hash, hash) "
                    "VALUES ('m', 'x', 'rls-b', '', '')"),
        (MANAGER_A, "DELETE FROM robots"),
        (DEVICE_A, "INSERT INTO telemetry (robot_id, site_id, seq, ts, channel, payload, score) "
                   "VALUES ('rls-rb', 'rls-b', 99, now(), 0, '{}', 0)"),
        (DEVICE_A, "INSERT INTO safety_events (robot_id, site_id, seq, ts, payload) VALUES ('rls-rb', 'rls-b', 99, "
                   "now(), '{}')"),
        (DEVICE_A, "UPDATE decisions SET action = 'dance'"),
        (DEVICE_A, "UPDATE robots SET public_key = 'mine'"),
        (ADMIN, "UPDATE audit_log SET actor = 'nobody'"),
        (ADMIN, "DELETE FROM audit_log"),
        (ADMIN, "DELETE FROM telemetry"),
    ]
    for principal, sql in refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(principal, sql)
    # Rows outside the caller's scope are invisible to UPDATE: nothing changes.
    assert as_role(MANAGER_A, "UPDATE robots SET model = 'x' WHERE site_id = 'rls-b'") == [(0,)]
    assert as_role(DEVICE_A, "UPDATE decisions SET status = 'applied' WHERE robot_id = 'rls-rb'") == [(0,)]
    assert as_role(DEVICE_A, "UPDATE robot_ingest_state SET last_seq = 0 WHERE robot_id = 'rls-rb'") == [(0,)]


def test_api_login_role_alone_can_do_nothing(cloud, seeded) -> None:
    with psycopg.connect(cloud.runtime.api_url, autocommit=True) as conn:
        for table in TABLES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")


def test_http_cross_site_reads_return_nothing(cloud, seeded) -> None:
    operator = cloud.token("operator", ("rls-a",))
    assert cloud.http.get("/v1/robots/rls-rb", headers=operator).status_code == 404
    listed = cloud.http.get("/v1/robots", headers=operator).json()["items"]
    assert {r["site_id"] for r in listed} == {"rls-a"}
    now = time.time()
    r = cloud.http.get("/v1/robots/rls-rb/telemetry", headers=operator,
                       params={"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                               "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))})
    assert r.status_code == 404
    assert {e["site_id"] for e in cloud.http.get("/v1/safety-events", headers=operator).json()["items"]} == {"rls-a"}
    assert cloud.http.get("/v1/sites/rls-b/summary", headers=operator).status_code == 404
    assert {d["robot_id"] for d in cloud.http.get("/v1/decisions", headers=operator).json()["items"]} <= {"rls-ra"}


def test_http_writes_outside_role_are_refused(cloud, seeded) -> None:
    operator = cloud.token("operator", ("rls-a",))
    manager = cloud.token("site_manager", ("rls-a",))
    decision = {"robot_id": "rls-ra", "action": "hold", "confidence": 0.5, "ttl_s": 5}
    assert cloud.http.post("/v1/decisions", headers=operator, json=decision).status_code == 403
    assert cloud.http.post("/v1/decisions", headers=manager, json={**decision, "robot_id": "rls-rb"}).status_code == 404
    assert cloud.http.post("/v1/decisions", headers=manager, json=decision).status_code == 201
    robot = {"robot_id": "rls-x", "site_id": "rls-b", "public_key": cloud.robots["rls-ra"].public_key}
    assert cloud.http.post("/v1/robots", headers=manager, json=robot).status_code == 403
    assert cloud.http.post("/v1/robots/rls-rb/decommission", headers=manager).status_code == 404
    assert cloud.http.post("/v1/sites", headers=manager, json={"site_id": "zz", "name": "Z"}).status_code == 403
    assert cloud.http.get("/v1/robots").status_code == 401
    bad = {"Authorization": "Bearer " + cloud.token()["Authorization"].split()[1][:-4] + "AAAA"}
    assert cloud.http.get("/v1/robots", headers=bad).status_code == 401
