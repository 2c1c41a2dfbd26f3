"""Where a console map update spends its time, part by part, with 1,000 robots on one site (docs/console.md).

A profile, not the headline (bench/console_render.py measures end to end through the real ingest): the robots' latest
rows are seeded straight into an embedded PostgreSQL, then

- server: one read of the site (`SiteFeed.poll_once`, the console's own code) reading every row — what every 100 ms
  read did before, and what a feed's first read still does — against reading only the rows written since the previous
  read, with nothing written and with 5 robots moved in between (median and p95 over `--reads` reads each);
- payload: the bytes of the snapshot a browser gets when it connects and of a delta that moves one robot;
- page: the console page in headless Chromium (its files served from the package by a route handler, no server)
  applying that snapshot (all robots drawn) and a one-robot delta through its own `onBlock`, timed in the page to the
  end of the call and to the next animation frame.

    python bench/console_profile.py [--robots 1000] [--reads 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "sigma_cloud" / "test"))
from console_browser import launch
from playwright.sync_api import sync_playwright

import sigma_protocol as protocol
from sigma_cloud.console.hub import SiteFeed
from sigma_cloud.core.bootstrap import prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import make_pool
from sigma_cloud.core.embedded import EmbeddedPostgres

SITE = "bench"


def odom(x: float, y: float, yaw: float) -> str:
    return orjson.dumps({"position": [x, y, 0.0], "orientation": [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)],
                         "linear": [0.5, 0.0, 0.0], "angular": [0.0, 0.0, 0.1], "frame_id": "odom",
                         "child_frame_id": "base_link"}).decode()


def seed(owner_url: str, n: int) -> list[str]:
    """n robots with odom, safety_status, battery and task_status rows in robot_latest."""
    ids = [f"r{i:05d}" for i in range(n)]
    ch = protocol.CHANNEL_IDS
    rows = []
    for rid in ids:
        rows += [(rid, ch["odom"], 1, odom(random.uniform(-14, 14), random.uniform(-9, 9), random.uniform(-3, 3))),
                 (rid, ch["safety_status"], 2, orjson.dumps({"level": 0, "authority": 0, "sequence": 1,
                                                             "brake_engaged": False, "active_faults": []}).decode()),
                 (rid, ch["battery"], 3, orjson.dumps({"voltage": 48.0, "current": 3.0,
                                                       "percentage": random.uniform(0.2, 1.0)}).decode()),
                 (rid, ch["task_status"], 4, orjson.dumps({"task_id": "", "state": 2, "progress": 0.5,
                                                           "kind": 1}).decode())]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES (%s, 'Bench')", (SITE,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO robots (robot_id, site_id, public_key) VALUES (%s, %s, 'x')",
                            [(r, SITE) for r in ids])
            cur.executemany("INSERT INTO robot_latest (robot_id, site_id, channel, seq, ts, payload, score) "
                            "VALUES (%s, %s, %s, %s, now(), %s::jsonb, 0)", [(r, SITE, c, s, p) for r, c, s, p in rows])
    return ids


def move(owner_url: str, ids: list[str], seq: int) -> None:
    with psycopg.connect(owner_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany("UPDATE robot_latest SET seq = %s, payload = %s::jsonb WHERE robot_id = %s AND channel = %s",
                        [(seq, odom(random.uniform(-14, 14), 0.0, 0.0), r, protocol.CHANNEL_IDS["odom"])
                         for r in ids])


def stats(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, p95 {statistics.quantiles(values, n=20)[18]:.1f} ms"


async def server(api_url: str, owner_url: str, ids: list[str], reads: int) -> tuple[dict, dict]:
    pool = make_pool(api_url, min_size=1, max_size=2, timeout=30)
    await pool.open(wait=True, timeout=60)
    try:
        feed = SiteFeed(SITE, pool, 0.05)
        await feed.poll_once()
        full, idle, idle_plain, moved = [], [], [], []
        for i in range(reads):
            feed.xmin_since, feed.pipeline = None, False  # read every row, one statement at a time: as before
            t = time.perf_counter()
            await feed.poll_once()
            full.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await feed.poll_once()  # only rows written since (none), one statement at a time
            idle_plain.append((time.perf_counter() - t) * 1000)
            feed.pipeline = True
            t = time.perf_counter()
            await feed.poll_once()  # only rows written since (none), the statements pipelined
            idle.append((time.perf_counter() - t) * 1000)
            await asyncio.to_thread(move, owner_url, random.sample(ids, 5), 100 + i)
            before = feed.rows_read
            t = time.perf_counter()
            delta = await feed.poll_once()  # only rows written since: the 5 moved robots
            moved.append((time.perf_counter() - t) * 1000)
            assert len(delta["robots"]) == 5 and feed.rows_read - before <= 10, (delta, feed.rows_read - before)
        print(f"server, one site read of {len(ids)} robots (reads interleaved): every row, statement by statement "
              f"(before) {stats(full)}; only rows written since the last read, nothing written: statement by "
              f"statement {stats(idle_plain)}, pipelined {stats(idle)}; pipelined with 5 robots moved "
              f"{stats(moved)}", flush=True)
        snapshot = feed.state.snapshot(time.time())
        one = {"robots": [{"robot_id": ids[0], "x": 1.25, "y": -2.5, "yaw": 0.3}], "t": time.time()}
        print(f"payload: snapshot {len(orjson.dumps(snapshot)) / 1000:.0f} kB, one-robot delta "
              f"{len(orjson.dumps(one))} B", flush=True)
        return snapshot, one
    finally:
        await pool.close()


def page_timing(snapshot: dict, delta: dict, n: int) -> None:
    static = resources.files("sigma_cloud.console").joinpath("static")
    session = {"token": "profile", "role": "fleet_admin", "sites": [], "subject": "profile", "expires_in": 3600}

    def serve(route) -> None:
        path = route.request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if path == "console":
            route.fulfill(body=static.joinpath("index.html").read_bytes(), content_type="text/html")
        elif path.startswith("console/static/"):
            route.fulfill(body=static.joinpath(path.rsplit("/", 1)[1]).read_bytes(), content_type="text/javascript"
                          if path.endswith(".js") else "text/css")
        elif path == "v1/sites":
            route.fulfill(json={"items": [{"site_id": SITE, "name": "Bench"}]})
        else:  # map, places, the event stream: not needed (the snapshot is handed to the page's own code below)
            route.fulfill(status=503, json={"title": "profile"})

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.route("http://console.profile/**", serve)
        page.goto("http://console.profile/console")
        page.evaluate("(s) => sessionStorage.setItem('sigma.session', JSON.stringify(s))", session)
        page.reload()
        page.wait_for_selector("#app-view:not([hidden])")
        block = "event: snapshot\ndata: " + orjson.dumps(snapshot).decode()
        snap_ms, snap_frame = [], []
        for _ in range(5):
            page.evaluate("() => { for (const g of document.querySelectorAll('#robots .robot')) g.remove();"
                          " S.robotEls.clear(); }")
            call, frame = page.evaluate("""(b) => new Promise(done => { const t = performance.now(); onBlock(b);
                const c = performance.now() - t; requestAnimationFrame(() => done([c, performance.now() - t])); })""",
                                        block)
            assert page.evaluate("() => document.querySelectorAll('#robots .robot').length") == n
            snap_ms.append(call)
            snap_frame.append(frame)
        d_ms, d_frame = [], []
        for i in range(30):
            delta["robots"][0]["x"] = round(random.uniform(-14, 14), 3) + i * 1e-3
            block = "event: delta\ndata: " + orjson.dumps(delta).decode()
            call, frame = page.evaluate("""(b) => new Promise(done => { const t = performance.now(); onBlock(b);
                const c = performance.now() - t; requestAnimationFrame(() => done([c, performance.now() - t])); })""",
                                        block)
            d_ms.append(call)
            d_frame.append(frame)
        browser.close()
    print(f"page: snapshot of {n} robots applied in median {statistics.median(snap_ms):.0f} ms (next frame "
          f"{statistics.median(snap_frame):.0f} ms); one-robot delta applied in median {statistics.median(d_ms):.2f} "
          f"ms, p95 {statistics.quantiles(d_ms, n=20)[18]:.2f} ms (next frame median "
          f"{statistics.median(d_frame):.0f} ms)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robots", type=int, default=1000)
    ap.add_argument("--reads", type=int, default=60)
    args = ap.parse_args()
    random.seed(17)
    tmp = Path(tempfile.mkdtemp(prefix="sigma-console-profile-"))
    tmp.chmod(0o755)
    pg = EmbeddedPostgres(tmp / "pg", settings={"fsync": "off"})
    try:
        pg.start()
        runtime = prepare(Settings(environment="development", data_dir=tmp), pg)
        ids = seed(runtime.owner_url, args.robots)
        snapshot, delta = asyncio.run(server(runtime.api_url, runtime.owner_url, ids, args.reads))
        page_timing(snapshot, delta, args.robots)
    finally:
        pg.stop("fast")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
