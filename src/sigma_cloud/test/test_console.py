"""The console's server side without a browser: passwords, site maps, the feed's deltas, sign-in, headers, CLI."""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import orjson
import psycopg
import pytest

from sigma_cloud.console import cli as console_cli
from sigma_cloud.console import feed, passwords, sitemap, users

WORLD = Path(__file__).resolve().parents[2] / "sigma_sim" / "worlds" / "warehouse.yaml"


def test_passwords_hash_and_verify() -> None:
    stored = passwords.hash_password("a long enough secret")
    assert stored.startswith("scrypt$") and "a long enough secret" not in stored
    assert passwords.verify_password("a long enough secret", stored)
    assert not passwords.verify_password("a long enough secreT", stored)
    assert not passwords.verify_password("x", "scrypt$garbage")
    assert not passwords.verify_password("x" * 2000, stored)
    assert passwords.hash_password("a long enough secret") != stored  # salted
    with pytest.raises(ValueError, match="characters"):
        passwords.hash_password("short")


def test_site_map_from_the_warehouse_world() -> None:
    m = sitemap.from_world(WORLD)
    assert m["bounds"] == [-14.5, -9.5, 14.5, 9.5]
    assert len(m["shelves"]) == 12 and {d["name"] for d in m["docks"]} == {"dock_1", "dock_2", "dock_3"}
    assert [z["name"] for z in m["zones"] if z["kind"] == "keep_out"] == ["packing_humans_only"]


@pytest.mark.parametrize(("raw", "where"), [
    ([], "map must be an object"),
    ({"bounds": [0, 0, 1]}, "bounds"),
    ({"bounds": [1, 0, 0, 1]}, "xmin < xmax"),
    ({"bounds": [0, 0, 1, 1], "zones": [{"name": "z", "kind": "lava", "polygon": [[0, 0], [1, 0], [1, 1]]}]},
     "zones[0].kind"),
    ({"bounds": [0, 0, 1, 1], "docks": [{"name": "d", "pose": [float("nan"), 0]}]}, "docks[0].pose[0]"),
    ({"bounds": [0, 0, 1, 1], "foxglove": {"r1": "http://evil"}}, "foxglove"),
])
def test_bad_site_maps_are_named(raw, where) -> None:
    with pytest.raises(sitemap.MapError, match=where.replace("[", r"\[").replace("]", r"\]")):
        sitemap.validate(raw)


def odom(x: float, y: float) -> str:
    payload = {"position": [x, y, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0], "linear": [0.3, 0.4, 0]}
    return orjson.dumps(payload).decode()


def test_feed_sends_only_what_changed() -> None:
    state = feed.SiteState()
    first = state.apply_latest([("r1", "odom", 1, odom(1, 2), 10.0), ("r1", "safety_status", 1, '{"level": 2}', 10.0)])
    assert first == {"r1": {"robot_id": "r1", "x": 1.0, "y": 2.0, "yaw": 0.0, "speed": 0.5, "level": 2, "faults": []}}
    assert state.apply_latest([("r1", "odom", 1, odom(5, 5), 11.0)]) == {}  # same seq: already seen
    assert state.apply_latest([("r1", "odom", 2, odom(1, 3), 12.0)]) == {"r1": {"robot_id": "r1", "y": 3.0}}
    assert state.apply_latest([("r1", "odom", 3, "not json", 13.0)]) == {}
    task = {"task_id": "t1", "kind": "go_to", "state": "queued", "robot_id": None, "created_at": "x"}
    assert state.apply_tasks([task]) == [task] and state.apply_tasks([task]) == []
    assert state.apply_tasks([{**task, "state": "done"}])[0]["state"] == "done"
    assert state.apply_leader(("r1", 3)) == {"robot_id": "r1", "term": 3}
    assert state.apply_leader(("r1", 3)) is None
    snap = state.snapshot(100.0)
    assert snap["server_time"] == 100.0 and snap["leader"] == {"robot_id": "r1", "term": 3}
    assert snap["tasks"][0]["state"] == "done"


def test_yaw_of_a_quaternion() -> None:
    assert feed.yaw_of([0.0, 0.0, 0.7071068, 0.7071068]) == pytest.approx(1.5707963, abs=1e-6)
    assert feed.yaw_of("nope") is None


def test_page_headers_and_schema(cloud) -> None:
    r = cloud.http.get("/console")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    # The page links its files by content hash: that URL is cached for good, any other is revalidated.
    linked = re.findall(r'"(/console/static/console\.(?:js|css)\?v=[0-9a-f]{16})"', r.text)
    assert len(linked) == 2, r.text
    for url in linked:
        got = cloud.http.get(url)
        assert got.status_code == 200 and "immutable" in got.headers["cache-control"]
        assert hashlib.sha256(got.content).hexdigest()[:16] == url.rsplit("=", 1)[1]
    plain = cloud.http.get("/console/static/console.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    assert cloud.http.get("/console/static/console.js?v=0000000000000000").headers["cache-control"] == "no-cache"
    assert cloud.http.get("/console/static/../app/main.py").status_code == 404
    assert not [p for p in cloud.http.get("/openapi.json").json()["paths"] if p.startswith("/console")]


def test_sign_in(cloud) -> None:
    cloud.ensure_site("console-login")
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        users.add_user(conn, username="alice", password="alice's passphrase", role="site_manager",
                       sites=["console-login"])
        with pytest.raises(ValueError, match="needs --sites"):
            users.add_user(conn, username="bob", password="bob's passphrase", role="operator", sites=[])
    ok = cloud.http.post("/console/api/login", json={"username": "alice", "password": "alice's passphrase"})
    assert ok.status_code == 200 and ok.json()["role"] == "site_manager" and ok.json()["sites"] == ["console-login"]
    token = {"Authorization": "Bearer " + ok.json()["token"]}
    assert [s["site_id"] for s in cloud.http.get("/v1/sites", headers=token).json()["items"]] == ["console-login"]
    for body in ({"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "x"}):
        bad = cloud.http.post("/console/api/login", json=body)
        assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    assert cloud.http.post("/console/api/login", json={"username": "alice"}).status_code == 422
    # the API roles cannot read the users table (only the sign-in function can)
    with psycopg.connect(cloud.runtime.api_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL ROLE sigma_fleet_admin")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM console_users")


def test_site_map_upload_is_checked_and_scoped(cloud) -> None:
    cloud.ensure_site("console-map")
    cloud.ensure_site("console-map-2")
    body = sitemap.from_world(WORLD)
    manager = cloud.token("site_manager", ("console-map",))
    assert cloud.http.put("/console/api/sites/console-map/map", json=body, headers=manager).status_code == 200
    got = cloud.http.get("/console/api/sites/console-map/map", headers=manager).json()
    assert got["map"]["bounds"] == body["bounds"]
    assert cloud.http.put("/console/api/sites/console-map-2/map", json=body, headers=manager).status_code == 404
    assert cloud.http.get("/console/api/sites/console-map-2/map", headers=manager).status_code == 404
    assert cloud.http.put("/console/api/sites/console-map/map", json={"bounds": "x"},
                          headers=manager).status_code == 422
    operator = cloud.token("operator", ("console-map",))
    assert cloud.http.put("/console/api/sites/console-map/map", json=body, headers=operator).status_code == 403
    assert cloud.http.get("/console/api/sites/console-map/events").status_code == 401


def test_cli_user_add_and_map(cloud, monkeypatch, capsys) -> None:
    cloud.ensure_site("console-cli")
    monkeypatch.setenv(console_cli.PASSWORD_ENV, "carol's passphrase")
    ns = argparse.Namespace(command="user", action="add", username="carol", role="operator", sites="console-cli",
                            password_stdin=False)
    assert console_cli.run(ns, cloud.runtime.owner_url)
    assert cloud.http.post("/console/api/login", json={"username": "carol", "password": "carol's passphrase"}
                           ).status_code == 200
    assert console_cli.run(argparse.Namespace(command="console", action="map", site_id="console-cli", world=WORLD,
                                              foxglove="*=ws://{robot_id}:8765"), cloud.runtime.owner_url)
    assert '"shelves": 12' in capsys.readouterr().out
    assert not console_cli.run(argparse.Namespace(command="migrate"), cloud.runtime.owner_url)
