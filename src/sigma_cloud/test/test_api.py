"""Fleet API surface: health, metrics, request ids, problem+json, pagination, site summary, audit chain."""

from __future__ import annotations

import time

import psycopg


def test_health_ready_metrics_and_request_id(cloud) -> None:
    assert cloud.http.get("/healthz").json() == {"status": "ok"}
    assert cloud.http.get("/readyz").status_code == 200
    robot = cloud.robot("api-metrics")
    assert cloud.post_batch(robot, robot.events(5, time.time())).status_code == 200
    metrics = cloud.http.get("/metrics").text
    assert "sigma_ingest_events_total" in metrics and 'sigma_ingest_batches_total{outcome="ok"}' in metrics
    r = cloud.http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(cloud.http.get("/healthz").headers["x-request-id"]) == 32


def test_errors_are_problem_json(cloud) -> None:
    for r in (cloud.http.get("/v1/nowhere"), cloud.http.get("/v1/robots?limit=0", headers=cloud.token()),
              cloud.http.get("/v1/robots")):
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == r.status_code and body["type"].startswith("https://sigmaprompt.dev/problems/")
    invalid = cloud.http.get("/v1/robots?limit=0", headers=cloud.token()).json()
    assert invalid["errors"][0]["field"] == "query.limit"


def test_pagination_and_filters(cloud) -> None:
    for i in range(5):
        cloud.robot(f"page-{i}", "site-page")
    seen, offset = [], 0
    while offset is not None:
        r = cloud.http.get("/v1/robots", headers=cloud.token(),
                           params={"site_id": "site-page", "limit": 2, "offset": offset}).json()
        seen += [x["robot_id"] for x in r["items"]]
        offset = r["next_offset"]
    assert seen == [f"page-{i}" for i in range(5)]
    none = cloud.http.get("/v1/robots", headers=cloud.token(), params={"site_id": "site-page",
                                                                       "status": "decommissioned"})
    assert none.json()["items"] == []


def test_site_summary(cloud) -> None:
    robot = cloud.robot("sum-1", "site-sum")
    cloud.robot("sum-2", "site-sum")
    assert cloud.post_batch(robot, robot.events(7, time.time())).status_code == 200
    summary = cloud.http.get("/v1/sites/site-sum/summary", headers=cloud.token("operator", ("site-sum",))).json()
    assert summary["robots_total"] == 2 and summary["robots_reporting"] == 1 and summary["events_total"] == 7


def test_audit_chain_detects_tampering(cloud) -> None:
    cloud.robot("audit-1", "site-audit")
    admin = cloud.http.get("/v1/audit", headers=cloud.token()).json()
    assert admin["chain_intact"] is True and admin["items"]
    assert cloud.http.get("/v1/audit", headers=cloud.token("operator", ("site-audit",))).json()["chain_intact"] is None
    target = admin["items"][0]["id"]
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        original = conn.execute("SELECT actor FROM audit_log WHERE id = %s", (target,)).fetchone()[0]
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_append_only")
        try:
            conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = %s", (target,))
            assert conn.execute("SELECT audit_verify()").fetchone()[0] == target
            assert cloud.http.get("/v1/audit", headers=cloud.token()).json()["chain_intact"] is False
            conn.execute("UPDATE audit_log SET actor = %s WHERE id = %s", (original, target))
        finally:
            conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_append_only")
        assert conn.execute("SELECT audit_verify()").fetchone()[0] is None
