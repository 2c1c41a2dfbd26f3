"""The cloud's own logs in the log store (docs/logs.md "The cloud's own logs"), through the real service and
PostgreSQL: a request carrying a W3C trace context leaves a cloud record with that trace id, on one time line with
the robot's records of the same trace; the cloud's records about an incident's robot come with the incident's logs;
another process (`sigma-cloud migrate`) ships under its own service name; the store is tenant-scoped (RLS) and the
writer role may only call its function; the handler is bounded, counts what it drops and reports the count to the
store once it is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from test_logs import _incident_pass, post_logs, record

import sigma_protocol as protocol
from sigma_cloud.core import service_log
from sigma_cloud.core.embedded import free_port
from sigma_cloud.core.log_retention import drop_old_log_partitions
from sigma_cloud.core.observability import configure_logging

SITE, OTHER = "slog-a", "slog-b"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def cloud_logs(cloud, headers: dict | None = None, **params) -> dict:
    r = cloud.http.get("/v1/logs", params={"since": time.time() - 600, **params},
                       headers=cloud.token() if headers is None else headers)
    assert r.status_code == 200, r.text
    return r.json()


def refused_batch(cloud, robot, traceparent: str):
    """A telemetry batch the cloud refuses (no events): what the cloud logs about it carries the robot's trace."""
    body = f'{{"robot_id":"{robot.robot_id}","events":[]}}'.encode()
    headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    headers |= {protocol.HEADER_TRACEPARENT: traceparent, "Content-Type": "application/json"}
    return cloud.http.post(protocol.INGEST_PATH, content=body, headers=headers)


def test_a_traced_request_leaves_a_cloud_record_beside_the_robots_records_of_the_trace(cloud) -> None:
    robot = cloud.robot("slog-r1", SITE)
    trace = protocol.new_traceparent()
    r = refused_batch(cloud, robot, trace.header())
    assert r.status_code in (400, 422), r.text
    # the robot's bridge logs the refusal with the batch's traceparent; its /rosout record is shipped as usual
    now = time.time()
    robot_record = record(1, now + 1.0, 40, node="slog-r1.bridge_node",
                          message=f"uplink refused (HTTP {r.status_code}) traceparent={trace.header()}",
                          trace_id=trace.trace_id)  # the bridge finds it in the message (sigma_protocol.logs)
    assert post_logs(cloud, robot, [robot_record, record(2, now, node="slog-r1.bridge_node")]).status_code == 200

    cloud_items = wait_for(lambda: cloud_logs(cloud, trace_id=trace.trace_id)["items"], "the cloud's record")
    (item,) = cloud_items
    assert item["service"] == "api" and item["instance"].endswith(f":{os.getpid()}")
    assert item["robot_id"] == "slog-r1" and item["severity"] == "info" and item["logger"] == "sigma_cloud.access"
    assert item["span_id"] == trace.span_id  # tracing is off here: the caller's span, as received
    assert item["extra"]["path"] == protocol.INGEST_PATH and item["extra"]["status"] == r.status_code
    assert len(item["request_id"]) == 32

    own = cloud.http.get("/v1/robots/slog-r1/logs", params={"since": now - 60, "until": now + 60,
                                                         "trace_id": trace.trace_id},
                         headers=cloud.token()).json()["items"]
    assert [i["seq"] for i in own] == [1]  # the robot's record of the trace, not its other one
    window = {"since": now - 60, "until": now + 60}
    timeline = cloud.http.get(f"/v1/traces/{trace.trace_id}/logs", params=window, headers=cloud.token()).json()
    assert [(i["source"], i["robot_id"]) for i in timeline["items"]] == [("cloud", "slog-r1"), ("robot", "slog-r1")]
    assert timeline["items"][1]["node"] == "slog-r1.bridge_node" and not timeline["truncated"]
    # the same trace, for a site manager of the robot's site; another site's sees neither
    manager = cloud.token("site_manager", (SITE,))
    assert len(cloud.http.get(f"/v1/traces/{trace.trace_id}/logs", params=window, headers=manager).json()["items"]) \
        == 2
    other = cloud.token("operator", (OTHER,))
    assert cloud.http.get(f"/v1/traces/{trace.trace_id}/logs", params=window, headers=other).json()["items"] == []
    assert cloud_logs(cloud, other, trace_id=trace.trace_id)["items"] == []


def test_query_is_authenticated_filtered_paged_and_refuses_bad_parameters(cloud) -> None:
    robot = cloud.robot("slog-r2", SITE)
    traces = [protocol.new_traceparent() for _ in range(5)]
    since = time.time() - 1
    for trace in traces:
        assert refused_batch(cloud, robot, trace.header()).status_code in (400, 422)
    log = logging.getLogger("sigma_cloud.test")
    log.warning("a record about no robot (service internals): %s", "only the fleet admin reads it")

    def mine() -> list[dict]:
        return cloud_logs(cloud, since=since, robot_id="slog-r2")["items"]

    items = wait_for(lambda: len(mine()) >= 5 and mine(), "five records about slog-r2")
    assert {i["trace_id"] for i in items} == {t.trace_id for t in traces}
    seen, cursor = [], None
    while True:  # pages of 2 by the cursor
        page = cloud_logs(cloud, since=since, robot_id="slog-r2", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["trace_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["trace_id"] for i in items]
    internal = wait_for(lambda: cloud_logs(cloud, since=since, q="SERVICE INTERNALS")["items"], "the internal record")
    assert internal[0]["severity"] == "warn" and internal[0]["robot_id"] is None
    assert cloud_logs(cloud, since=since, min_severity="error", robot_id="slog-r2")["items"] == []
    assert cloud_logs(cloud, since=since, service="cognition", robot_id="slog-r2")["items"] == []
    manager = cloud.token("site_manager", (SITE,))
    assert len(cloud_logs(cloud, manager, since=since, robot_id="slog-r2")["items"]) == 5
    assert cloud_logs(cloud, manager, since=since, q="service internals")["items"] == []  # no site: admin only
    assert cloud.http.get("/v1/logs").status_code == 401
    for params, field in (({"since": time.time(), "until": time.time() - 10}, "query.since"),
                          ({"trace_id": "XYZ"}, "query.trace_id"), ({"cursor": "nope"}, "query.cursor"),
                          ({"min_severity": "loud"}, "query.min_severity"), ({"limit": 5000}, "query.limit")):
        bad = cloud.http.get("/v1/logs", params=params, headers=cloud.token())
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json", bad.text
        assert field in {e["field"] for e in bad.json()["errors"]}, bad.json()
    assert cloud.http.get("/v1/traces/not-a-trace/logs", headers=cloud.token()).status_code == 422


def test_incident_logs_bring_the_clouds_records_about_the_robot(cloud) -> None:
    robot = cloud.robot("slog-r3", SITE)
    now = time.time()
    assert cloud.post_batch(robot, robot.events(1, now - 5.0)).status_code == 200
    asyncio.run(_incident_pass(cloud))
    event = {"seq": robot.next_seq, "ts": now - 2.0, "channel": "safety_event",
             "payload": {"sequence": 1, "previous_level": 0, "level": 3, "previous_authority": 0, "authority": 2,
                         "cause": "operator emergency stop", "cleared": [], "raised": [{"code": 9}]}}
    assert cloud.post_batch(robot, [event]).status_code == 200
    asyncio.run(_incident_pass(cloud))
    incidents = cloud.http.get("/v1/incidents", params={"robot_id": "slog-r3"}, headers=cloud.token()).json()
    (incident,) = [i for i in incidents["items"] if i["kind"] == "safety"]
    # a robot long-polling with a stale signature after the stop: the cloud's record of it is about slog-r3
    path = protocol.DECISIONS_PATH.format(robot_id="slog-r3")
    stale = protocol.sign_request(robot.seed, "GET", path, "slog-r3", b"", time.time() - 3600)
    assert cloud.http.get(path, headers=stale).status_code == 401
    assert post_logs(cloud, robot, [record(1, now - 1.0, 40, node="slog-r3.safety", message="estop")]).status_code \
        == 200
    url = f"/v1/incidents/{incident['incident_id']}/logs"

    def cloud_part() -> list[dict]:
        return cloud.http.get(url, params={"after_s": 600}, headers=cloud.token()).json()["cloud"]

    got = wait_for(lambda: [i for i in cloud_part() if i["extra"].get("status") == 401], "the cloud's 401 record")
    assert got[0]["robot_id"] == "slog-r3" and got[0]["extra"]["path"] == path
    page = cloud.http.get(url, params={"after_s": 600}, headers=cloud.token()).json()
    assert [i["message"] for i in page["items"]] == ["estop"] and page["cloud_more"] is False
    assert all(i["robot_id"] == "slog-r3" for i in page["cloud"])
    assert cloud.http.get(url, params={"cursor": "1.7.1"}, headers=cloud.token()).json()["cloud"] is None


def test_another_process_ships_under_its_own_service_name(cloud, pg_root) -> None:
    secrets = json.loads((pg_root / "secrets.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_") and k != "DATABASE_URL"}
    env |= {"DATABASE_URL": cloud.runtime.owner_url, "SIGMA_DATA_DIR": str(pg_root), "SIGMA_ENVIRONMENT": "test",
            "SIGMA_API_DB_PASSWORD": secrets["api_db_password"], "SIGMA_JWT_SECRET": cloud.runtime.jwt_secret}
    done = subprocess.run([sys.executable, "-m", "sigma_cloud.cli", "migrate"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = json.loads([x for x in done.stderr.splitlines() if '"database ready' in x][-1])  # JSON on stderr too
    assert line["logger"] == "sigma_cloud.cli" and line["level"] == "INFO"
    # already shipped when the command exits (the writer sends what is queued before it ends)
    items = cloud_logs(cloud, service="migrate", q="database ready")["items"]
    assert items and items[-1]["instance"] != f"{os.uname().nodename}:{os.getpid()}"


@pytest.fixture
def api_conn(cloud):
    conn = psycopg.connect(cloud.runtime.api_url, autocommit=True)
    yield conn
    conn.close()


def test_least_privilege_the_writer_only_calls_its_function_people_read_by_site(cloud, api_conn) -> None:
    cloud.robot("slog-r4", SITE)
    api_conn.execute("SET ROLE sigma_log_writer")
    for statement in ("SELECT count(*) FROM service_logs",
                      "INSERT INTO service_logs (ts, service, instance, severity, logger, message) "
                      "VALUES (now(), 'x', 'x', 20, 'x', 'forged')", "DELETE FROM service_logs",
                      "SELECT count(*) FROM robot_logs"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api_conn.execute(statement)
    row = {"ts": time.time(), "service": "probe", "instance": "h:1", "severity": 20, "logger": "t",
           "message": "site from the robot's registration\x00", "robot_id": "slog-r4", "trace_id": "", "span_id": "",
           "request_id": "", "extra": {"path": "/v1/robots/%00", "odd": object()}}
    assert service_log.write_batch(api_conn, [row]) == 1  # NUL and a value JSON cannot hold: stored all the same
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        api_conn.execute("SELECT service_logs_write('{}'::jsonb)")
    api_conn.execute("RESET ROLE")
    with psycopg.connect(cloud.runtime.owner_url) as owner:
        site, message, extra = owner.execute("SELECT site_id, message, extra FROM service_logs "
                                             "WHERE service = 'probe'").fetchone()
    assert site == SITE and message.endswith("registration\ufffd") and extra["odd"].startswith("<object")
    api_conn.execute("SET ROLE sigma_device")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        api_conn.execute("SELECT count(*) FROM service_logs")


def test_the_handler_is_bounded_never_recursive_and_reports_its_drops(cloud) -> None:
    handler = service_log.StoreHandler("drop-test", capacity=50, instance="probe:1")
    ship = service_log.Shipper(handler, period_s=0.05)
    log = logging.getLogger("sigma_cloud_drop_probe")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        for i in range(200):  # queued before the writer starts (as a process's records before migrations)
            log.info("record %d", i)
        log.error("an error while full")
        assert handler.pending() == 50 and handler.dropped_total == 151
        ship.start(f"postgresql://nobody:x@127.0.0.1:{free_port()}/none")  # nothing listens there
        wait_for(lambda: ship.failures >= 2, "two failed writes")
        assert handler.pending() == 50  # the writer's trouble went to stderr, not into the queue
        assert ship.handler.writer_thread is not None and ship.handler.writer_thread.is_alive()
        ship.url = cloud.runtime.api_url  # the store comes back
        wait_for(lambda: ship.written >= 51, "the queue written")
    finally:
        ship.stop()
        log.removeHandler(handler)
    with psycopg.connect(cloud.runtime.owner_url) as owner:
        rows = owner.execute("SELECT severity, message, extra FROM service_logs WHERE service = 'drop-test' "
                             "ORDER BY ts, id").fetchall()
    assert [m for _, m, _ in rows[:50]] == [f"record {i}" for i in range(50)]  # oldest kept, in order
    (report,) = [(s, e) for s, m, e in rows if "dropped" in m]
    assert report == (30, {"dropped": {"info": 150, "error": 1}})


def test_emit_from_many_threads_while_the_writer_runs(cloud) -> None:
    handler = service_log.StoreHandler("thread-test", capacity=100_000, instance="probe:2")
    ship = service_log.Shipper(handler, period_s=0.05)
    log = logging.getLogger("sigma_cloud_thread_probe")
    log.propagate = False
    log.addHandler(handler)
    ship.start(cloud.runtime.api_url)
    try:
        threads = [threading.Thread(target=lambda n=n: [log.warning("t%d %d", n, i) for i in range(500)])
                   for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ship.flush(60)
    finally:
        ship.stop()
        log.removeHandler(handler)
    assert handler.dropped_total == 0
    with psycopg.connect(cloud.runtime.owner_url) as owner:
        (n,) = owner.execute("SELECT count(*) FROM service_logs WHERE service = 'thread-test'").fetchone()
    assert n == 2000


def test_severity_mapping_and_configure_logging_keeps_the_store_handler(cloud) -> None:
    assert [service_log.severity_of(v) for v in (1, 10, 15, 20, 30, 40, 50, 60)] == [10, 10, 10, 20, 30, 40, 50, 50]
    ship = service_log.shipper()
    assert ship is not None  # the session's app installed it
    configure_logging("INFO")  # another app built in this process must not take it off
    assert ship.handler in logging.getLogger("sigma_cloud").handlers


def test_retention_drops_old_service_log_partitions(cloud) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    old = today - dt.timedelta(days=120)
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        conn.execute("SELECT service_logs_partition(%s)", (old,))
        assert old in drop_old_log_partitions(conn, 90, today)
        names = {r[0] for r in conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                            "ON c.oid = i.inhrelid WHERE i.inhparent = 'service_logs'::regclass")}
    assert f"service_logs_{old:%Y%m%d}" not in names and f"service_logs_{today:%Y%m%d}" in names


def test_a_batch_the_store_can_never_take_is_dropped_counted_not_retried_forever(cloud) -> None:
    handler = service_log.StoreHandler("poison-test", instance="probe:3")
    ship = service_log.Shipper(handler, period_s=0.05)
    log = logging.getLogger("sigma_cloud_poison_probe")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("poison")
        handler.queue[0]["ts"] = 1e20  # a time PostgreSQL cannot hold (no record made by emit is like this)
        ship.start(cloud.runtime.api_url)
        wait_for(lambda: ship.failures >= 1 and handler.pending() == 0, "the poison batch refused")
        log.warning("after the poison")
        wait_for(lambda: ship.written >= 2, "the next record and the drop report")
    finally:
        ship.stop()
        log.removeHandler(handler)
    with psycopg.connect(cloud.runtime.owner_url) as owner:
        rows = owner.execute("SELECT message, extra FROM service_logs WHERE service = 'poison-test' "
                             "ORDER BY ts, id").fetchall()
    assert [m for m, _ in rows if "dropped" not in m] == ["after the poison"]
    assert [e for m, e in rows if "dropped" in m] == [{"dropped": {"warn": 1}}]


def test_with_tracing_on_the_record_carries_the_clouds_server_span(cloud) -> None:
    from conftest import ServerThread
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sigma_cloud.app.main import create_app
    from sigma_cloud.core.observability import RequestContextMiddleware

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(cloud.settings, cloud.runtime, run_maintenance=False)
    for middleware in app.user_middleware:  # a replica whose tracer exports to memory
        if middleware.cls is RequestContextMiddleware:
            middleware.kwargs["tracer"] = provider.get_tracer("test")
    robot = cloud.robot("slog-r5", SITE)
    trace = protocol.new_traceparent()
    port = free_port()
    with ServerThread(app, port):
        body = b'{"robot_id":"slog-r5","events":[]}'
        headers = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, "slog-r5", body, time.time())
        headers |= {protocol.HEADER_TRACEPARENT: trace.header(), "Content-Type": "application/json"}
        r = cloud.http.post(f"http://127.0.0.1:{port}{protocol.INGEST_PATH}", content=body, headers=headers)
        assert r.status_code in (400, 422), r.text
        (item,) = wait_for(lambda: cloud_logs(cloud, trace_id=trace.trace_id)["items"], "the traced record")
    (server,) = [s for s in exporter.get_finished_spans() if s.name == f"POST {protocol.INGEST_PATH}"]
    assert item["span_id"] == f"{server.context.span_id:016x}" != trace.span_id  # the cloud span, the robot its parent
    assert server.parent.span_id == int(trace.span_id, 16)
