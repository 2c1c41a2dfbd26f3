"""Digital-twin health over the device protocol into PostgreSQL, GET /v1/robots/{id}/health (latest + paged
history), the site maintenance plan and policy, and RLS: a site manager never sees another site's health."""

from __future__ import annotations

import itertools
import time

import psycopg

from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params
from sigma_protocol.channels import NO_WINDOW, RUL_BEYOND_H, RUL_UNKNOWN


def health_payload(health: float, window: tuple[float, float] | None, rul05: float = 10.0) -> dict:
    opens, closes = window or (NO_WINDOW, NO_WINDOW)
    return {"name": ["knee_l", "battery"], "health": [health, 1.0], "confidence": [0.9, 1.0], "risk": [0.6, 0.0],
            "rul_q05": [rul05, RUL_UNKNOWN], "rul_q50": [2 * rul05, RUL_UNKNOWN],
            "rul_q95": [RUL_BEYOND_H, RUL_UNKNOWN], "window_opens": [opens, NO_WINDOW],
            "window_closes": [closes, NO_WINDOW], "dominant_mode": ["thermal", "capacity_fade"],
            "spoofed_sensors": [], "state_names": ["knee_l/thermal_gain"], "state_values": [0.9],
            "state_std": [0.05], "reasons": ["knee_l: cooling efficiency 0.7"], "risk_horizon": 24.0}


def send(cloud, robot, payloads: list[dict], now: float) -> None:
    events = []
    for i, p in enumerate(payloads):
        events.append({"seq": robot.next_seq, "ts": now - len(payloads) + i, "channel": "twin_health", "payload": p})
        robot.next_seq += 1
    r = cloud.post_batch(robot, events)
    assert r.status_code == 200, r.text


def test_health_latest_and_paged_history(cloud):
    robot = cloud.robot("twin-h1", "twin-site-a")
    now = time.time()
    send(cloud, robot, [health_payload(1.0 - 0.1 * i, None) for i in range(4)] +
         [health_payload(0.4, (0.0, 10.0))], now)
    hdr = cloud.token("site_manager", ("twin-site-a",))
    body = cloud.http.get("/v1/robots/twin-h1/health", params={"limit": 2}, headers=hdr).json()
    latest = body["latest"]
    knee, battery = latest["components"]
    assert knee["name"] == "knee_l" and knee["health"] == 0.4 and knee["rul_h"] == {"q05": 10.0, "q50": 20.0,
                                                                                      "q95": None}
    assert knee["window"]["closes_at"] - latest["ts"] == 10.0 * 3600
    assert knee["states"] == [{"name": "thermal_gain", "value": 0.9, "std": 0.05}]
    assert knee["reasons"] == ["cooling efficiency 0.7"]
    assert battery["forecast_ready"] is False and battery["rul_h"] is None and battery["window"] is None
    assert latest["window"] == knee["window"]
    assert [h["components"][0]["health"] for h in body["history"]] == [0.4, 0.7] and body["next_offset"] == 2
    more = cloud.http.get("/v1/robots/twin-h1/health", params={"limit": 2, "offset": 2}, headers=hdr).json()
    assert [h["components"][0]["health"] for h in more["history"]] == [0.8, 0.9]


def test_unknown_robot_and_bad_query_are_problems(cloud):
    r = cloud.http.get("/v1/robots/nobody-here/health", headers=cloud.token())
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = cloud.http.get("/v1/robots/twin-h1/health", params={"limit": 0}, headers=cloud.token())
    assert r.status_code == 422


def test_malformed_health_payload_is_refused_at_ingest(cloud):
    robot = cloud.robot("twin-h2", "twin-site-a")
    bad = health_payload(0.5, None)
    bad["health"] = [2.0, 1.0]
    r = cloud.post_batch(robot, [{"seq": robot.next_seq, "ts": time.time(), "channel": "twin_health",
                                  "payload": bad}])
    assert r.status_code == 422 and "health" in r.text


def test_site_plan_places_windows_before_the_limits_with_at_most_k_out(cloud):
    site = "twin-site-plan"
    now = time.time()
    for i, closes in enumerate((30.0, 8.0, 8.0)):
        send(cloud, cloud.robot(f"twin-p{i}", site), [health_payload(0.3, (closes - 2.0, closes))], now)
    send(cloud, cloud.robot("twin-p-healthy", site), [health_payload(1.0, None)], now)
    hdr = cloud.token("site_manager", (site,))
    r = cloud.http.put(f"/v1/sites/{site}/maintenance/policy", headers=hdr, json={
        "lead_time_h": 2.0, "duration_h": 3.0, "max_out": 1, "off_peak_start_hour": 22, "off_peak_end_hour": 6})
    assert r.status_code == 200, r.text
    plan = cloud.http.get(f"/v1/sites/{site}/maintenance", headers=hdr).json()
    assert plan["policy_configured"] and plan["robots_reporting"] == 4
    windows = {w["robot_id"]: w for w in plan["windows"]}
    assert next(iter(windows)) == "twin-p1"  # earliest deadline first
    for e in plan["windows"] + plan["infeasible"]:  # each entry names the report its deadline comes from
        latest = cloud.http.get(f"/v1/robots/{e['robot_id']}/health", headers=hdr).json()["latest"]
        assert e["report_seq"] == latest["seq"] and abs(e["report_ts"] - (now - 1.0)) < 1e-3
    for w in plan["windows"]:
        assert w["end"] <= w["deadline"] - 2 * 3600 + 1e-3 and w["start"] >= now - 5
    spans = sorted((w["start"], w["end"]) for w in plan["windows"])
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # K = 1: never two out at once
    unplaced = {u["robot_id"]: u["reason"] for u in plan["infeasible"]}
    assert "twin-p2" in unplaced and "already out" in unplaced["twin-p2"]  # same deadline as p1, 3 h service, K = 1
    assert "twin-p-healthy" not in windows and "twin-p-healthy" not in unplaced
    r = cloud.http.put(f"/v1/sites/{site}/maintenance/policy", headers=cloud.token("operator", (site,)),
                       json={"max_out": 2})
    assert r.status_code == 403
    r = cloud.http.put(f"/v1/sites/{site}/maintenance/policy", headers=hdr, json={"max_out": 0})
    assert r.status_code == 422


def test_site_manager_never_sees_another_sites_health(cloud):
    now = time.time()
    send(cloud, cloud.robot("twin-ra", "twin-rls-a"), [health_payload(0.3, (1.0, 9.0))], now)
    send(cloud, cloud.robot("twin-rb", "twin-rls-b"), [health_payload(0.2, (1.0, 9.0))], now)
    hdr_a = cloud.token("site_manager", ("twin-rls-a",))
    assert cloud.http.get("/v1/robots/twin-ra/health", headers=hdr_a).json()["latest"] is not None
    assert cloud.http.get("/v1/robots/twin-rb/health", headers=hdr_a).status_code == 404
    assert cloud.http.get("/v1/sites/twin-rls-b/maintenance", headers=hdr_a).status_code == 404
    r = cloud.http.put("/v1/sites/twin-rls-b/maintenance/policy", headers=hdr_a, json={"max_out": 3})
    assert r.status_code == 404
    # and in the database itself, whatever the query
    manager = Principal("manager-a", "site_manager", ("twin-rls-a",))
    with psycopg.connect(cloud.runtime.api_url, autocommit=True) as conn, conn.transaction():
        conn.execute(IDENTITY_SQL, identity_params(manager))
        for view in ("twin_health_history", "twin_health_latest"):
            seen = {r[0] for r in conn.execute(f"SELECT DISTINCT site_id FROM {view}").fetchall()}
            assert seen == {"twin-rls-a"}, view
        conn.execute("INSERT INTO site_maintenance_policies VALUES ('twin-rls-a', 1, 1, 1, 0, 6, now(), 'm')")
        try:
            with conn.transaction():
                conn.execute("INSERT INTO site_maintenance_policies VALUES ('twin-rls-b', 1, 1, 1, 0, 6, now(), 'm')")
            raise AssertionError("a manager of site a wrote site b's policy")
        except psycopg.errors.InsufficientPrivilege:
            pass
        assert {r[0] for r in conn.execute("SELECT site_id FROM site_maintenance_policies").fetchall()} == \
            {"twin-rls-a"}
