"""Health and metrics of a fleet-cognition worker, for its orchestrator and Prometheus (docs/deploy.md).

`WorkerHealth` is pure (times are passed in): each loop of the worker — the site loop (cursors, zone rule, drift
gate; every `cursor_every_s`) and every claim loop — reports each iteration it completes. The worker is

- **live** while every loop has completed an iteration within `stale_s` (a hung event loop, a deadlocked claim loop
  or a pass stuck on the database stops them; the orchestrator restarts the worker);
- **ready** while, in addition, the latest site pass succeeded (the database answers): a worker that cannot reach
  its database is running but deciding nothing.

The metrics (`sigma_cognition_*`) are on a registry of the instance's own. `serve_http` answers `/healthz`,
`/readyz` and `/metrics` from a daemon thread (stdlib WSGI server, read-only, no authentication: bind it to the pod
network, never expose it publicly), so a busy or stuck event loop cannot hide its own state.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

SITE = "site"  # the loop names used as metric labels
ROBOTS = "robots"
ALERTS = "alerts"


class WorkerHealth:
    """Per-loop progress of one worker process and its Prometheus metrics (see the module docstring)."""

    def __init__(self, loops: Iterable[str], *, stale_s: float, now: float) -> None:
        if not (math.isfinite(stale_s) and stale_s > 0):
            raise ValueError(f"stale_s must be a positive finite number of seconds, got {stale_s!r}")
        self.stale_s = stale_s
        self.progress: dict[str, float] = {name: now for name in loops}  # loop -> last completed iteration
        if SITE not in self.progress:
            raise ValueError(f"the loops must include {SITE!r}, got {sorted(self.progress)}")
        self.site_ok_at: float | None = None  # the latest site pass that succeeded
        self.site_error = "no site pass yet"
        self.registry = CollectorRegistry()
        self.passes = Counter("sigma_cognition_passes_total", "cognition loop iterations by loop and outcome",
                              ["loop", "outcome"], registry=self.registry)
        self.pass_seconds = Histogram("sigma_cognition_pass_seconds", "duration of a cognition loop iteration",
                                      ["loop"], registry=self.registry,
                                      buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.decisions = Counter("sigma_cognition_proposals_total", "proposals carried out (decisions sent, tasks "
                                 "taken back) by rule and action", ["rule", "action"], registry=self.registry)
        self.last_ok = Gauge("sigma_cognition_last_success_timestamp_seconds", "wall-clock time of the loop's "
                             "latest successful iteration", ["loop"], registry=self.registry)

    def loop_done(self, loop: str, *, ok: bool, now: float, seconds: float, wall: float | None = None,
                  error: str = "", proposals: Iterable[Any] = ()) -> None:
        """One iteration of ``loop`` ended at ``now`` (monotonic; ``wall``: the same instant as Unix time, for the
        last-success gauge) after ``seconds``; ``proposals`` carried out."""
        if loop not in self.progress:
            raise KeyError(f"unknown loop {loop!r}")
        self.progress[loop] = now
        self.passes.labels(loop, "ok" if ok else "failed").inc()
        self.pass_seconds.labels(loop).observe(max(0.0, seconds))
        for proposal in proposals:
            self.decisions.labels(proposal.rule, proposal.action).inc()
        if ok and wall is not None:
            self.last_ok.labels(loop).set(wall)
        if loop == SITE:
            self.site_ok_at = now if ok else self.site_ok_at
            self.site_error = "" if ok else (error or "failed")

    def live(self, now: float) -> tuple[bool, str]:
        """Every loop completed an iteration within stale_s; else which ones did not and for how long."""
        late = {name: now - at for name, at in self.progress.items() if now - at > self.stale_s}
        if late:
            return False, "no progress for " + ", ".join(f"{name} {age:.0f} s" for name, age in sorted(late.items()))
        return True, "every loop progressing"

    def ready(self, now: float) -> tuple[bool, str]:
        """Live, and the latest site pass succeeded within stale_s (the database answers)."""
        live, why = self.live(now)
        if not live:
            return False, why
        if self.site_error:
            return False, f"latest site pass failed: {self.site_error}"
        if self.site_ok_at is None or now - self.site_ok_at > self.stale_s:
            return False, f"no successful site pass within the last {self.stale_s:g} s"
        return True, "ready"


def wsgi_app(health: WorkerHealth, clock: Callable[[], float] = time.monotonic) -> Callable[..., list[bytes]]:
    """`/healthz`, `/readyz` (200 or 503 with the reason as text) and `/metrics`; 404 otherwise, 405 unless GET."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path not in ("/healthz", "/readyz", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: /healthz, /readyz, /metrics\n"]
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain; charset=utf-8"),
                                                      ("Allow", "GET, HEAD")])
            return [b"method not allowed\n"]
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(health.registry)]
        ok, why = (health.live if path == "/healthz" else health.ready)(clock())
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [why.encode() + b"\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not log lines."""


def serve_http(health: WorkerHealth, host: str, port: int, clock: Callable[[], float] = time.monotonic
               ) -> WSGIServer:
    """Serve `wsgi_app(health, clock)` on host:port from a daemon thread; returns the server (``shutdown()`` stops
    it; ``server_port`` is the bound port when ``port`` is 0)."""
    server = make_server(host, port, wsgi_app(health, clock), server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="cognition-http", daemon=True).start()
    return server


__all__ = ["ALERTS", "ROBOTS", "SITE", "WorkerHealth", "serve_http", "wsgi_app"]
