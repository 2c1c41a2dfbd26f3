"""The fleet console in real headless Chromium against the real server and embedded PostgreSQL: sign in, robots move
on the map as signed telemetry arrives, robot detail, a task created in the page finishes as its robot reports, an
operator cannot create tasks, a site manager never sees another site's robots, and the page survives an API restart.

Every test builds its own world (`world` fixture: its own two sites, robots, floor plan, places and console users),
so the tests pass alone and in any order (docs/console.md shows them run reversed)."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from console_browser import WAIT_MS, event, launch, pose, screenshot, send, sign_in, wait_robot_at, wait_true

from sigma_cloud.console import sitemap, users
from sigma_protocol.channels import NO_WINDOW, RUL_UNKNOWN

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                reason="Debian's chromium is missing (scripts/setup.sh installs it)")

PASSWORD = "correct horse battery"
PLACES = [{"name": "dock_1", "kind": "dock", "x": -13.5, "y": -8.5},
          {"name": "shelf_0_0", "kind": "shelf", "x": -8.0, "y": -6.0},
          {"name": "packing", "kind": "zone", "x": 13.0, "y": 0.0}]
# A twin health report (sigma_protocol twin_health): knee_l degrading, service window 2..6 h ahead, RUL q05 10 h.
TWIN_HEALTH = {"name": ["knee_l", "battery"], "health": [0.7, 1.0], "confidence": [0.9, 1.0], "risk": [0.6, 0.0],
               "rul_q05": [10.0, RUL_UNKNOWN], "rul_q50": [20.0, RUL_UNKNOWN], "rul_q95": [40.0, RUL_UNKNOWN],
               "window_opens": [2.0, NO_WINDOW], "window_closes": [6.0, NO_WINDOW],
               "dominant_mode": ["thermal", "capacity_fade"], "spoofed_sensors": [],
               "state_names": ["knee_l/thermal_gain"], "state_values": [0.9], "state_std": [0.05],
               "reasons": ["knee_l: cooling efficiency 0.7"], "risk_horizon": 24.0}
WORLD = Path(__file__).resolve().parents[2] / "sigma_sim" / "worlds" / "warehouse.yaml"
START = {1: (-10.0, 0.0), 2: (-7.0, 0.0), 3: (-4.0, 0.0)}  # where robot i stands when its test begins
_worlds = itertools.count(1)


@dataclass
class World:
    """One test's own sites, robots and console users (names unique to the test)."""

    site: str  # three robots, the warehouse floor plan, places
    other: str  # one robot, seen only by the fleet admin
    robots: dict  # robot id -> conftest.Robot
    manager: str  # site manager of `site`
    viewer: str  # operator of `site`
    admin: str  # fleet admin (every site)

    def rid(self, i: int) -> str:
        """The id of the test's robot i (1..3 on `site`; 0 is the other site's)."""
        return f"{self.site}-x1" if i == 0 else f"{self.site}-r{i}"

    def robot(self, i: int):
        return self.robots[self.rid(i)]


@pytest.fixture
def world(cloud, request) -> World:
    """Two sites of this test's own with robots at START, the warehouse floor plan and places, one user per role."""
    import psycopg

    tag = f"c{next(_worlds)}-{request.node.name.removeprefix('test_')[:12].rstrip('_').replace('_', '-')}"
    w = World(site=tag, other=f"{tag}-b", robots={}, manager=f"manager-{tag}", viewer=f"viewer-{tag}",
              admin=f"admin-{tag}")
    for i in (1, 2, 3):
        w.robots[w.rid(i)] = cloud.robot(w.rid(i), w.site)
    w.robots[w.rid(0)] = cloud.robot(w.rid(0), w.other)
    admin = cloud.token()
    r = cloud.http.put(f"/console/api/sites/{w.site}/map", headers=admin,
                       json={**sitemap.from_world(WORLD), "foxglove": {"*": "ws://{robot_id}.local:8765"}})
    assert r.status_code == 200, r.text
    assert cloud.http.put(f"/v1/sites/{w.site}/places", json={"places": PLACES}, headers=admin).status_code == 200
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        users.add_user(conn, username=w.manager, password=PASSWORD, role="site_manager", sites=[w.site])
        users.add_user(conn, username=w.viewer, password=PASSWORD, role="operator", sites=[w.site])
        users.add_user(conn, username=w.admin, password=PASSWORD, role="fleet_admin", sites=[])
    for i in (1, 2, 3):
        robot = w.robot(i)
        send(cloud, robot, [pose(robot, *START[i], 0.0),
                            event(robot, "safety_status", {"level": 0, "authority": 0, "sequence": 1}),
                            event(robot, "battery", {"voltage": 48.0, "current": 3.0, "percentage": 1.0 - 0.1 * i})])
    send(cloud, w.robot(0), [pose(w.robot(0), 1.0, 1.0, 0.0)])
    return w


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    yield pg
    context.close()


def test_sign_in_and_robots_move_on_the_map(cloud, world, page):
    page.goto(cloud.url + "/console")
    page.fill("#login-user", world.manager)
    page.fill("#login-password", "wrong password!")
    page.click("#login-submit")
    wait_true(page, "() => document.getElementById('login-error').textContent.includes('wrong password')")
    sign_in(page, cloud.url, world.manager, PASSWORD)
    for i in (1, 2, 3):
        wait_robot_at(page, world.rid(i), *START[i])
    assert page.locator("#map .shelf").count() == 12 and page.locator("#map .zone-keep_out").count() == 1
    # The robots move: new poses through the real ingest reach the open page without a reload.
    r1, r1_id = world.robot(1), world.rid(1)
    for step in range(1, 4):
        send(cloud, r1, [pose(r1, -10.0 + step, 0.5 * step, 0.3 * step)])
        wait_robot_at(page, r1_id, -10.0 + step, 0.5 * step)
    # Safety state colours the robot; the swarm leader is marked.
    r2 = world.robot(2)
    send(cloud, r2, [event(r2, "safety_status", {"level": 2, "authority": 1, "sequence": 2})])
    page.wait_for_selector(f"#robot-{world.rid(2)}.lvl-2", timeout=WAIT_MS)
    r3, r3_id = world.robot(3), world.rid(3)
    assert cloud.device_post(r3, f"/v1/devices/{r3_id}/leadership", b'{"term": 3}').json()["leader"] is True
    page.wait_for_selector(f"#robot-{r3_id}.leader", timeout=WAIT_MS)
    # People r1 saw 5 s ago (channel humans, robot base frame) are drawn where they stood, with their age.
    send(cloud, r1, [pose(r1, -7.0, 1.5, 0.0),
                     event(r1, "humans", {"name": ["t4", ""], "x": [2.0, 1.0], "y": [1.0, -2.0], "vx": [0.0, 0.0],
                                          "vy": [0.0, 0.0], "confidence": [0.9, 0.6], "sensor_range": 8.0},
                           ts=time.time() - 5.0)])
    humans = f"#humans-{r1_id}"
    wait_true(page, "(sel) => document.querySelectorAll(sel + ' .human').length === 2", humans)
    people = page.eval_on_selector_all(humans + " .human", "hs => hs.map(h => [Number(h.dataset.x), "
                                       "Number(h.dataset.y), h.dataset.name, h.querySelector('text.age').textContent])")
    assert [p[:3] for p in people] == [[-5.0, 2.5, "t4"], [-6.0, -0.5, ""]]
    age = float(page.get_attribute(humans, "data-age"))
    assert 4.0 <= age < 60.0 and people[0][3].endswith(" s")
    screenshot(page, "map")
    # Nobody seen any more: the people are no longer drawn.
    send(cloud, r1, [event(r1, "humans", {"name": [], "x": [], "y": []})])
    wait_true(page, "(sel) => document.querySelectorAll(sel + ' .human').length === 0", humans)


def test_robot_detail(cloud, world, page):
    r2, r2_id = world.robot(2), world.rid(2)
    now = time.time()
    send(cloud, r2, [event(r2, "actuator_health", {"name": ["hip", "knee"], "temperature": [41.0 + i, 39.0],
                                                   "current": [1.0, 1.0], "voltage": [48.0, 48.0]}, now - 60 + i * 10)
                     for i in range(5)]
         + [event(r2, "safety_status", {"level": 2, "authority": 1, "sequence": 2}),
            event(r2, "safety_event", {"level": 2, "previous_level": 0, "authority": 1, "previous_authority": 0,
                                       "sequence": 2, "cause": "obstacle inside the protective field"}),
            event(r2, "twin_health", TWIN_HEALTH)])
    sign_in(page, cloud.url, world.manager, PASSWORD)
    page.click(f"#robot-{r2_id}")
    page.wait_for_selector("#robot-view:not([hidden])", timeout=WAIT_MS)
    wait_true(page, "() => document.querySelector('[data-fact=\"safety\"]')?.textContent === 'protective stop'")
    assert page.inner_text('[data-fact="authority"]') == "Edge AI"
    wait_true(page, "() => Number(document.getElementById('plot-temp').dataset.points) >= 5")
    page.wait_for_selector("#robot-events td:has-text('obstacle inside the protective field')", timeout=WAIT_MS)
    assert f"{r2_id}.local" in page.get_attribute("#foxglove-link", "href")
    page.wait_for_selector("#robot-health td:has-text('knee_l')", timeout=WAIT_MS)  # twin health with RUL bands
    assert page.locator("#robot-health svg.rul rect.band").count() == 1  # knee_l's band; the battery's is unknown
    screenshot(page, "robot")


def test_create_a_task_and_watch_it_finish(cloud, world, page):
    sign_in(page, cloud.url, world.manager, PASSWORD)
    page.click("#nav-tasks")
    page.select_option("#task-kind", "go_to")
    page.click("#task-pick")  # choose the place on the map: the map view opens on the hash change, a task later
    page.wait_for_selector("#map-view:not([hidden]) #map [data-place='packing']", state="visible", timeout=WAIT_MS)
    page.click("#map [data-place='packing']", force=True)
    page.wait_for_selector("#tasks-view:not([hidden])", timeout=WAIT_MS)
    assert page.input_value("#task-place") == "packing"
    page.click("#task-create")
    row = page.locator("#task-list tbody tr", has_text="packing").first
    row.wait_for(timeout=WAIT_MS)
    task_id = row.get_attribute("data-task")
    robot = world.robot(1)
    for state, shown in ((0, "assigned"), (2, "in_progress"), (3, "done")):  # ACCEPTED, ACTIVE, SUCCEEDED
        send(cloud, robot, [event(robot, "task_status", {"task_id": task_id, "state": state, "progress": 0.5,
                                                         "kind": 1, "step": "test", "reason": ""})])
        page.wait_for_selector(f"#task-list tr[data-task='{task_id}'] td.state-{shown}", timeout=WAIT_MS)
    screenshot(page, "tasks")
    # Cancel from the page.
    page.select_option("#task-place", "dock_1")
    page.click("#task-create")
    queued = page.locator("#task-list tbody tr", has_text="dock_1").first
    queued.wait_for(timeout=WAIT_MS)
    queued.locator("button.cancel").click()
    page.wait_for_selector(f"#task-list tr[data-task='{queued.get_attribute('data-task')}'] td.state-cancelled",
                           timeout=WAIT_MS)


def test_an_operator_cannot_create_tasks(cloud, world, page):
    sign_in(page, cloud.url, world.viewer, PASSWORD)
    page.click("#nav-tasks")
    assert page.locator("#task-form").is_hidden()
    status = page.evaluate("""async (site) => {
        const s = JSON.parse(sessionStorage.getItem('sigma.session'));
        const r = await fetch(`/v1/sites/${site}/tasks`, {method: 'POST', headers: {
            Authorization: 'Bearer ' + s.token, 'Content-Type': 'application/json'},
            body: JSON.stringify({kind: 'go_to', place: 'dock_1'})});
        return r.status; }""", world.site)
    assert status == 403
    assert page.locator("#task-list button.cancel").count() == 0


def test_a_site_manager_never_sees_another_site(cloud, world, page):
    sign_in(page, cloud.url, world.manager, PASSWORD)
    r3, r3_id, x1, x1_id = world.robot(3), world.rid(3), world.robot(0), world.rid(0)
    wait_robot_at(page, r3_id, *START[3])
    assert page.eval_on_selector_all("#site-select option", "os => os.map(o => o.value)") == [world.site]
    send(cloud, x1, [pose(x1, 2.0, 2.0, 0.0)])
    send(cloud, r3, [pose(r3, -4.0, 1.0, 0.0)])  # a later pose of their own site arrives...
    wait_robot_at(page, r3_id, -4.0, 1.0)
    assert page.locator(f"#robot-{x1_id}").count() == 0  # ...but the other site's robot never does
    status = page.evaluate("""async (site) => {
        const s = JSON.parse(sessionStorage.getItem('sigma.session'));
        const r = await fetch(`/console/api/sites/${site}/events`, {headers: {Authorization: 'Bearer ' + s.token}});
        return r.status; }""", world.other)
    assert status == 404
    # A fleet admin sees both sites.
    page.click("#logout")
    sign_in(page, cloud.url, world.admin, PASSWORD)
    page.select_option("#site-select", world.other)
    wait_robot_at(page, x1_id, 2.0, 2.0)
    # The site manager again in the same tab: the page starts streaming the tab's last site (the other one) before
    # the list of sites arrives; that stream is refused, and the page shows the manager's own site instead.
    page.click("#logout")
    sign_in(page, cloud.url, world.manager, PASSWORD)
    wait_robot_at(page, r3_id, -4.0, 1.0)
    assert page.input_value("#site-select") == world.site
    assert page.locator(f"#robot-{x1_id}").count() == 0


def cognition_pass(cloud) -> None:
    """One pass of the cloud's cognition worker (the same code the service runs): incidents from safety events."""
    import asyncio

    from sigma_cloud.cognition import rules, worker
    from sigma_cloud.core.db import make_pool
    from sigma_cloud.repositories import cognition

    async def run() -> None:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
        await pool.open(wait=True, timeout=30)
        try:
            async with worker.transaction(pool, worker.ACTOR) as conn:
                await cognition.ensure_cursors(conn)  # robots not seen before start at their current head
            await worker.run_once(pool, rules.CognitionParams(), zones=False)
        finally:
            await pool.close()

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, run()).result()


def safety_incident(cloud, robot, cause: str) -> dict:
    """A protective stop with a raised fault, sent as the robot's signed telemetry and turned into an incident."""
    fault = {"code": 301, "rule": "person_in_path", "source": "sigma_safety", "cause": cause, "severity": 2,
             "latched": False}
    send(cloud, robot, [event(robot, "battery", {"voltage": 47.0 + 0.1 * i, "current": 3.0, "percentage": 0.7},
                              ts=time.time() - 3 + 0.5 * i) for i in range(5)]
         + [event(robot, "safety_event", {"level": 2, "previous_level": 0, "authority": 0, "previous_authority": 0,
                                          "sequence": 7, "cause": cause, "raised": [fault], "cleared": []})])
    cognition_pass(cloud)
    items = cloud.http.get("/v1/incidents", params={"robot_id": robot.robot_id}, headers=cloud.token()).json()["items"]
    assert len(items) == 1 and items[0]["kind"] == "safety", items
    return items[0]


def test_operations_view_with_incidents_and_their_similar_past_one(cloud, world, page):
    # Two robots stop for a person in the aisle: the first incident is resolved by the site manager through the
    # API; the second, opened in the console, finds the first as its nearest past incident with that resolution.
    past, latest = cloud.robot(f"{world.site}-i1", world.site), cloud.robot(f"{world.site}-i2", world.site)
    r2 = world.robot(2)  # its twin reports a knee to service: the maintenance plan has a window for it
    send(cloud, r2, [event(r2, "twin_health", TWIN_HEALTH)])
    cognition_pass(cloud)
    first = safety_incident(cloud, past, "person 0.8 m ahead in aisle 2")
    manager = cloud.token("site_manager", (world.site,))
    r = cloud.http.post(f"/v1/incidents/{first['incident_id']}/resolution", headers=manager,
                        json={"outcome": "operator_intervention", "resolution": "pallet moved out of the aisle"})
    assert r.status_code == 200, r.text
    second = safety_incident(cloud, latest, "person 0.7 m ahead in aisle 2")
    sign_in(page, cloud.url, world.manager, PASSWORD)
    page.click("#nav-ops")
    page.wait_for_selector(f"#maintenance td:has-text('{world.rid(2)}')", timeout=WAIT_MS)  # the knee's service window
    row = f"#incidents tr[data-incident='{second['incident_id']}']"
    page.wait_for_selector(row, timeout=WAIT_MS)
    cells = page.eval_on_selector_all(row + " td", "tds => tds.map(td => td.textContent)")
    assert cells[1:5] == [latest.robot_id, "safety", "safety level 2: person 0.7 m ahead in aisle 2", "open"], cells
    resolved = page.eval_on_selector_all(f"#incidents tr[data-incident='{first['incident_id']}'] td",
                                         "tds => tds.map(td => td.textContent)")
    assert resolved[4:6] == ["operator intervention", "pallet moved out of the aisle"], resolved
    page.click(row)
    page.wait_for_selector(f"#similar[data-incident='{second['incident_id']}'] td:has-text('{past.robot_id}')",
                           timeout=WAIT_MS)
    nearest = page.eval_on_selector_all("#similar tbody tr:first-child td", "tds => tds.map(td => td.textContent)")
    assert nearest[1] == past.robot_id and nearest[4:6] == ["operator intervention", "pallet moved out of the aisle"]
    assert float(nearest[6]) < 0.1  # the same kind of stop: nearly the same signature
    screenshot(page, "operations")


def test_the_page_recovers_after_the_api_restarts(settings, runtime, world, cloud, browser):
    from conftest import ServerThread

    from sigma_cloud.app.main import create_app
    from sigma_cloud.core.embedded import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def server() -> ServerThread:
        s = ServerThread(create_app(settings, runtime, run_maintenance=False), port)
        s.server.config.timeout_graceful_shutdown = 1  # open event streams must not hold the shutdown
        return s

    r3, r3_id = world.robot(3), world.rid(3)
    context = browser.new_context()
    page = context.new_page()
    try:
        with server():
            sign_in(page, url, world.manager, PASSWORD)
            wait_robot_at(page, r3_id, *START[3])
        page.wait_for_selector("#conn.down", timeout=WAIT_MS)  # the API is gone: the page says so
        send(cloud, r3, [pose(r3, -3.0, 1.5, 0.0)])  # reported (to the other server) while this one is down
        with server():
            page.wait_for_selector("#conn.live", timeout=WAIT_MS)
            wait_robot_at(page, r3_id, -3.0, 1.5)
    finally:
        context.close()
