"""Robot logs through the real service and PostgreSQL (docs/logs.md): signed batches stored exactly once per
(robot, stream, seq), drop counters that never double, a record with a problem skipped and named; the query
endpoints authenticated, tenant-scoped (RLS), paged, with RFC 9457 answers for bad parameters; an incident's window;
the device role may insert its own records and read none."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import orjson
import psycopg
import pytest

import sigma_protocol as protocol
from sigma_cloud.cognition import rules, worker
from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params, make_pool
from sigma_cloud.core.log_retention import drop_old_log_partitions
from sigma_cloud.repositories import cognition as cognition_repo
from sigma_protocol import logs as wire

SITE, OTHER = "logs-a", "logs-b"


def record(seq: int, ts: float, severity: int = 20, node: str = "lg-r1.talker", message: str = "hello",
           **extra: object) -> dict:
    return {"seq": seq, "ts": ts, "severity": severity, "node": node, "message": message, "file": "talker.py",
            "function": "tick", "line": 42, **extra}


def post_logs(cloud, robot, records: list[dict], *, stream: int = 7, dropped: dict | None = None, signer=None,
              body: bytes | None = None):
    path = wire.LOGS_PATH.format(robot_id=robot.robot_id)
    body = wire.encode_log_batch(robot.robot_id, stream, records, dropped or {}) if body is None else body
    who = signer or robot
    headers = protocol.sign_request(who.seed, "POST", path, who.robot_id, body, time.time())
    return cloud.http.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


def get_logs(cloud, robot_id: str, headers: dict, **params):
    return cloud.http.get(f"/v1/robots/{robot_id}/logs", params=params, headers=headers)


def test_batches_are_stored_once_in_order_with_drop_counters(cloud) -> None:
    robot = cloud.robot("lg-r1", SITE)
    now = time.time()
    first = [record(i, now - 10 + i * 0.01, 20 if i % 3 else 40, message=f"m{i}") for i in range(1, 51)]
    r = post_logs(cloud, robot, first, dropped={"buffer": {"info": 3}})
    assert r.status_code == 200, r.text
    assert r.json() | {"errors": []} == {"robot_id": "lg-r1", "stream": 7, "accepted": 50, "duplicates": 0,
                                         "refused": 0, "acked_through": 50, "errors": []}
    # the answer was lost: the robot resends the same records (and more) under a new nonce
    again = post_logs(cloud, robot, [*first[25:], record(51, now - 9, 30, message="m51")],
                      dropped={"buffer": {"info": 2}, "rate": {"debug": 1}})
    assert again.json()["accepted"] == 1 and again.json()["duplicates"] == 25
    # a new bridge incarnation (stream) numbers from 1 again: stored, not mistaken for duplicates
    assert post_logs(cloud, robot, [record(1, now - 8, 50, message="fatal x")], stream=8).json()["accepted"] == 1

    page = get_logs(cloud, "lg-r1", cloud.token(), since=now - 60, until=now + 1).json()
    assert [i["message"] for i in page["items"]] == [f"m{i}" for i in range(1, 52)] + ["fatal x"]
    assert [(i["stream"], i["seq"]) for i in page["items"][:2]] == [(7, 1), (7, 2)]
    first_item = page["items"][0]
    assert first_item["severity"] == "info" and first_item["node"] == "lg-r1.talker"
    assert (first_item["file"], first_item["function"], first_item["line"]) == ("talker.py", "tick", 42)
    assert page["dropped"]["buffer"]["info"] == 3 and page["dropped"]["rate"]["debug"] == 1  # max, not the sum
    errors = get_logs(cloud, "lg-r1", cloud.token(), since=now - 60, min_severity="error").json()["items"]
    assert [i["message"] for i in errors] == [f"m{i}" for i in range(3, 51, 3)] + ["fatal x"]


def test_a_bad_record_is_skipped_and_named_the_rest_stored(cloud) -> None:
    robot = cloud.robot("lg-r2", SITE)
    now = time.time()
    recs = [record(1, now, node="lg-r2.a"), record(2, now - 30 * 86400, node="lg-r2.a"),
            record(3, now, severity=25, node="lg-r2.a"), record(4, now, node="lg-r2.a",
                                                                message="trace_id=" + "ab" * 16)]
    r = post_logs(cloud, robot, recs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["refused"], body["acked_through"]) == (2, 2, 4)
    assert {(e["seq"], e["field"]) for e in body["errors"]} == {(2, "ts"), (3, "severity")}
    items = get_logs(cloud, "lg-r2", cloud.token(), since=now - 60, until=now + 1).json()["items"]
    assert [i["seq"] for i in items] == [1, 4]
    malformed = post_logs(cloud, robot, [], body=orjson.dumps({"robot_id": "lg-r2", "records": "no"}))
    assert malformed.status_code == 400 and malformed.headers["content-type"] == "application/problem+json"
    other = cloud.robot("lg-r3", OTHER)
    forged = post_logs(cloud, robot, [record(5, now)], signer=other)
    assert forged.status_code == 403 and forged.json()["type"].endswith("robot-mismatch")
    unsigned = cloud.http.post(wire.LOGS_PATH.format(robot_id="lg-r2"), content=b"{}")
    assert unsigned.status_code == 401


def test_query_is_authenticated_tenant_scoped_paged_and_refuses_bad_parameters(cloud) -> None:
    robot = cloud.robot("lg-r4", SITE)
    cloud.robot("lg-r5", OTHER)
    now = time.time()
    recs = [record(i, now - 5 + i * 0.001, node="lg-r4.core" if i % 2 else "lg-r4.twin",
                   message="obstacle ahead" if i == 7 else f"tick {i}") for i in range(1, 26)]
    assert post_logs(cloud, robot, recs).status_code == 200
    assert get_logs(cloud, "lg-r4", {}).status_code == 401
    assert get_logs(cloud, "lg-r4", cloud.token("site_manager", (OTHER,))).status_code == 404  # another tenant
    operator = cloud.token("operator", (SITE,))
    seen, cursor = [], None
    while True:  # pages of 10 by the cursor
        params = {"since": now - 60, "limit": 10} | ({"cursor": cursor} if cursor else {})
        page = get_logs(cloud, "lg-r4", operator, **params).json()
        seen += [i["seq"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 26))
    found = get_logs(cloud, "lg-r4", operator, since=now - 60, q="OBSTACLE").json()["items"]
    assert [i["seq"] for i in found] == [7]
    twin = get_logs(cloud, "lg-r4", operator, since=now - 60, node="lg-r4.twin").json()["items"]
    assert [i["seq"] for i in twin] == list(range(2, 26, 2))
    assert get_logs(cloud, "lg-r4", operator, since=now - 60, q="100%_").json()["items"] == []  # no wildcard
    for params, field in (({"since": now, "until": now - 10}, "query.since"),
                          ({"min_severity": "loud"}, "query.min_severity"),
                          ({"cursor": "not-a-cursor"}, "query.cursor"),
                          ({"since": now - 40 * 86400, "until": now}, "query.since"),
                          ({"limit": 0}, "query.limit")):
        bad = get_logs(cloud, "lg-r4", operator, **params)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in bad.json()["errors"]}, bad.json()


@pytest.fixture
def as_role(cloud):
    conn = psycopg.connect(cloud.runtime.api_url, autocommit=True)

    def run(principal: Principal, sql: str, params: tuple = ()) -> list[tuple]:
        with conn.transaction():
            conn.execute(IDENTITY_SQL, identity_params(principal))
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    yield run
    conn.close()


def test_rls_device_inserts_only_its_own_and_reads_nothing_people_see_their_sites(cloud, as_role) -> None:
    for robot_id, site in (("lg-r6", SITE), ("lg-r7", OTHER)):
        robot = cloud.robot(robot_id, site)
        assert post_logs(cloud, robot, [record(1, time.time(), node=f"{robot_id}.n")]).status_code == 200
    device = Principal("device:lg-r6", "device", robot_id="lg-r6")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(device, "SELECT count(*) FROM robot_logs")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # RLS: not another robot's records
        as_role(device, "INSERT INTO robot_logs (robot_id, site_id, stream, seq, ts, severity, node, message) "
                        "VALUES ('lg-r7', %s, 1, 99, now(), 20, 'x', 'forged')", (OTHER,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(device, "DELETE FROM robot_logs")
    sites = {r[0] for r in as_role(Principal("m", "site_manager", (SITE,)), "SELECT DISTINCT site_id FROM robot_logs")}
    assert sites == {SITE}
    streams = as_role(Principal("o", "operator", (OTHER,)), "SELECT DISTINCT robot_id FROM robot_log_streams")
    assert {r[0] for r in streams} <= {"lg-r7", "lg-r3", "lg-r5"} and ("lg-r6",) not in streams
    admin = {r[0] for r in as_role(Principal("a", "fleet_admin"), "SELECT DISTINCT robot_id FROM robot_logs")}
    assert {"lg-r6", "lg-r7"} <= admin


async def _incident_pass(cloud) -> None:
    pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
    await pool.open(wait=True, timeout=30)
    try:
        async with worker.transaction(pool, worker.ACTOR) as conn:
            await cognition_repo.ensure_cursors(conn)
        await worker.run_once(pool, rules.CognitionParams())
    finally:
        await pool.close()


def test_incident_logs_line_up_with_the_incident_window(cloud) -> None:
    robot = cloud.robot("lg-r8", SITE)
    now = time.time()
    assert cloud.post_batch(robot, robot.events(1, now - 5.0)).status_code == 200
    asyncio.run(_incident_pass(cloud))  # the robot's cursor starts at its head
    at = now - 2.0
    event = {"seq": robot.next_seq, "ts": at, "channel": "safety_event",
             "payload": {"sequence": 1, "previous_level": 0, "level": 3, "previous_authority": 0, "authority": 2,
                         "cause": "operator emergency stop", "cleared": [], "raised": [{"code": 9}]}}
    assert cloud.post_batch(robot, [event]).status_code == 200
    asyncio.run(_incident_pass(cloud))
    admin = cloud.token()
    incidents = cloud.http.get("/v1/incidents", params={"robot_id": "lg-r8"}, headers=admin).json()["items"]
    (incident,) = [i for i in incidents if i["kind"] == "safety"]
    recs = [record(1, at - 100, node="lg-r8.core", message="long before"),
            record(2, at - 1.0, 40, node="lg-r8.safety", message="hazard: person at 0.4 m"),
            record(3, at + 0.5, node="lg-r8.core", message="stopped"),
            record(4, at + 60, node="lg-r8.core", message="long after")]
    recs = [r for r in recs if r["ts"] <= time.time() + 200]
    assert post_logs(cloud, robot, recs).status_code == 200
    url = f"/v1/incidents/{incident['incident_id']}/logs"
    page = cloud.http.get(url, headers=admin).json()
    assert [i["message"] for i in page["items"]] == ["hazard: person at 0.4 m", "stopped"]
    assert page["incident_id"] == incident["incident_id"]
    wide = cloud.http.get(url, params={"before_s": 200, "after_s": 120}, headers=admin).json()["items"]
    assert [i["seq"] for i in wide] == [1, 2, 3, 4]
    assert cloud.http.get(url, headers=cloud.token("operator", (OTHER,))).status_code == 404
    assert cloud.http.get(url, params={"before_s": -1}, headers=admin).status_code == 422


def test_retention_drops_old_log_partitions_only(cloud) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    old, recent = today - dt.timedelta(days=100), today - dt.timedelta(days=3)
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        for day in (old, recent):
            conn.execute("SELECT robot_logs_partition(%s)", (day,))
        assert drop_old_log_partitions(conn, 90, today) == [old]
        names = {r[0] for r in conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                            "ON c.oid = i.inhrelid WHERE i.inhparent = 'robot_logs'::regclass")}
    assert f"robot_logs_{recent:%Y%m%d}" in names and f"robot_logs_{old:%Y%m%d}" not in names


def test_drop_counters_belong_to_the_window_of_their_streams_records(cloud) -> None:
    robot = cloud.robot("lg-r9", SITE)
    now = time.time()
    old = post_logs(cloud, robot, [record(1, now - 2 * 86400, node="lg-r9.a")], stream=1,
                    dropped={"buffer": {"warn": 5}})
    late = post_logs(cloud, robot, [record(1, now - 30, node="lg-r9.a")], stream=2, dropped={"rate": {"info": 7}})
    assert old.status_code == late.status_code == 200
    recent = get_logs(cloud, "lg-r9", cloud.token(), since=now - 3600).json()["dropped"]
    assert recent["buffer"]["warn"] == 0 and recent["rate"]["info"] == 7  # both streams were received just now
    back = get_logs(cloud, "lg-r9", cloud.token(), since=now - 2 * 86400 - 60, until=now - 86400).json()["dropped"]
    assert back["buffer"]["warn"] == 5 and back["rate"]["info"] == 0
