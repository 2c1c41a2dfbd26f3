"""Process entry of the fleet-cognition worker (`sigma-cloud cognition`): a pool as the API's login role, then
passes until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time

from sigma_cloud.cognition import rules, worker
from sigma_cloud.cognition.health import WorkerHealth, serve_http
from sigma_cloud.core.db import make_pool

ALERT_LOOPS_ENV = "SIGMA_COGNITION_ALERT_LOOPS"  # claim loops only for robots with an alert (default 1; 0 = none)
MIN_STALE_S = 30.0  # a loop without an iteration this long (or 3 poll intervals, if longer) makes the worker not live


async def run_worker(api_url: str, *, poll_s: float = 1.0, once: bool = False,
                     params: rules.CognitionParams | None = None, concurrency: int = 2,
                     alert_loops: int | None = None, http_host: str = "127.0.0.1", http_port: int | None = None
                     ) -> None:
    """Serve until signalled (or one pass with `once`, printing a JSON line per act). `alert_loops`: None = from
    SIGMA_COGNITION_ALERT_LOOPS (default 1). `http_port`: serve /healthz, /readyz and /metrics there (0 = any free
    port, logged; None = not at all)."""
    if alert_loops is None:
        raw = os.environ.get(ALERT_LOOPS_ENV, "1")
        if not raw.isdigit() or int(raw) > 16:
            raise ValueError(f"{ALERT_LOOPS_ENV} must be an integer 0..16, got {raw!r}")
        alert_loops = int(raw)
    logging.basicConfig(level=os.environ.get("SIGMA_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(name)s %(message)s")
    params = params or rules.CognitionParams()
    pool = worker_pool(api_url, concurrency + alert_loops)
    await pool.open(wait=True)
    try:
        if once:
            async with worker.transaction(pool, worker.ACTOR) as conn:
                await worker.repo.ensure_cursors(conn)
            for p in await worker.run_once(pool, params):
                print(json.dumps({"robot_id": p.robot_id, "rule": p.rule, "action": p.action,
                                  "confidence": round(p.confidence, 3), "explanation": p.explanation}))
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        health = WorkerHealth(worker.loop_names(concurrency, alert_loops), stale_s=max(MIN_STALE_S, 3 * poll_s),
                              now=time.monotonic())
        server = None if http_port is None else serve_http(health, http_host, http_port)
        if server is not None:
            logging.getLogger("sigma_cloud.cognition").info(
                "health and metrics on http://%s:%d (/healthz /readyz /metrics)", http_host, server.server_port)
        try:
            await worker.serve(pool, params, poll_s=poll_s, stop=stop, concurrency=concurrency, listen_url=api_url,
                               alert_loops=alert_loops, health=health)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    finally:
        await pool.close()


def worker_pool(api_url: str, concurrency: int = 1):
    """A small pool: one connection per claim loop (alert loops included) plus one for the site-level pass."""
    return make_pool(api_url, min_size=1, max_size=concurrency + 1)
