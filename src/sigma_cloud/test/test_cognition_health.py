"""The cognition worker's health and metrics (cognition/health.py): liveness and readiness from its loops'
progress (pure, times passed in), the HTTP endpoints over a real socket, and the real `sigma-cloud cognition`
process serving them while it decides about a robot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_cli import wait_ready
from test_cognition_worker import anomalous, normal, post

from sigma_cloud.cognition import rules
from sigma_cloud.cognition.health import SITE, WorkerHealth, serve_http, wsgi_app
from sigma_cloud.core.embedded import free_port

LOOPS = [SITE, "robots-1", "alerts-1"]


def test_live_while_every_loop_progresses_ready_while_the_site_pass_succeeds() -> None:
    h = WorkerHealth(LOOPS, stale_s=30.0, now=100.0)
    assert h.live(100.0)[0] and h.ready(100.0) == (False, "latest site pass failed: no site pass yet")
    h.loop_done(SITE, ok=True, now=101.0, seconds=0.01)
    assert h.ready(101.0) == (True, "ready")
    for t in (110.0, 125.0):  # the site loop goes on; the claim loops too
        for loop in LOOPS:
            h.loop_done(loop, ok=True, now=t, seconds=0.01)
    assert h.live(150.0)[0] and h.ready(150.0)[0]
    h.loop_done(SITE, ok=True, now=170.0, seconds=0.01)
    h.loop_done("alerts-1", ok=True, now=170.0, seconds=0.01)
    live, why = h.live(170.0)  # robots-1 last progressed at 125: stuck for 45 s
    assert not live and why == "no progress for robots-1 45 s"
    assert h.ready(170.0) == (False, why)
    h.loop_done("robots-1", ok=False, now=171.0, seconds=5.0, error="pass failed")  # failing, but progressing
    assert h.live(171.0)[0]


def test_a_failing_site_pass_makes_the_worker_unready_not_dead() -> None:
    h = WorkerHealth(LOOPS, stale_s=30.0, now=0.0)
    h.loop_done(SITE, ok=True, now=1.0, seconds=0.01)
    h.loop_done(SITE, ok=False, now=2.0, seconds=1.5, error="connection refused")
    assert h.live(2.0)[0]
    assert h.ready(2.0) == (False, "latest site pass failed: connection refused")
    h.loop_done(SITE, ok=True, now=3.0, seconds=0.01)
    assert h.ready(3.0)[0]


def test_bad_loops_and_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="stale_s"):
        WorkerHealth(LOOPS, stale_s=0.0, now=0.0)
    with pytest.raises(ValueError, match="'site'"):
        WorkerHealth(["robots-1"], stale_s=30.0, now=0.0)
    with pytest.raises(KeyError, match="robots-9"):
        WorkerHealth(LOOPS, stale_s=30.0, now=0.0).loop_done("robots-9", ok=True, now=1.0, seconds=0.0)


def test_metrics_count_passes_and_proposals_by_rule() -> None:
    h = WorkerHealth(LOOPS, stale_s=30.0, now=0.0)
    hold = SimpleNamespace(rule=rules.HOLD, action="hold")
    h.loop_done("robots-1", ok=True, now=1.0, seconds=0.02, wall=1_700_000_001.0, proposals=[hold, hold])
    h.loop_done("robots-1", ok=False, now=2.0, seconds=0.02, wall=1_700_000_002.0, error="x")
    text = httpx_free_metrics(h)
    assert samples(text, "sigma_cognition_last_success_timestamp_seconds", loop="robots-1") == 1_700_000_001.0
    assert samples(text, "sigma_cognition_proposals_total", rule=rules.HOLD, action="hold") == 2.0
    assert samples(text, "sigma_cognition_passes_total", loop="robots-1", outcome="ok") == 1.0
    assert samples(text, "sigma_cognition_passes_total", loop="robots-1", outcome="failed") == 1.0
    assert samples(text, "sigma_cognition_pass_seconds_count", loop="robots-1") == 2.0


def httpx_free_metrics(health: WorkerHealth) -> str:
    """/metrics through the WSGI app, no server."""
    status: list[str] = []
    body = b"".join(wsgi_app(health)({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"},
                                     lambda s, headers: status.append(s)))
    assert status == ["200 OK"]
    return body.decode()


def samples(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_the_endpoints_over_http_say_why_and_refuse_other_paths_and_methods() -> None:
    clock = [0.0]
    h = WorkerHealth(LOOPS, stale_s=30.0, now=0.0)
    server = serve_http(h, "127.0.0.1", 0, clock=lambda: clock[0])
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            assert (http.get("/healthz").status_code, http.get("/readyz").status_code) == (200, 503)
            h.loop_done(SITE, ok=True, now=1.0, seconds=0.01)
            assert http.get("/readyz").status_code == 200
            clock[0] = 60.0  # nothing progressed for a minute: a hung worker
            dead = http.get("/healthz")
            assert dead.status_code == 503 and "no progress for" in dead.text and "site 59 s" in dead.text
            assert http.get("/nope").status_code == 404
            assert http.post("/healthz").status_code == 405
            assert "sigma_cognition_passes_total" in http.get("/metrics").text
    finally:
        server.shutdown()
        server.server_close()


def test_the_worker_process_serves_health_and_counts_its_decisions(cloud) -> None:
    """`sigma-cloud cognition --http-port`: ready once its site pass ran; its metrics count the hold it decides for
    an anomalous robot; SIGTERM stops it cleanly (exit 0) and closes the port."""
    robot = cloud.robot("cog-health1", "cog-a")
    post(cloud, robot, normal(robot, time.time() - 20))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_") and k != "DATABASE_URL"}
    env.update(SIGMA_DATA_DIR=str(cloud.settings.data_dir), SIGMA_ENVIRONMENT="test")
    proc = subprocess.Popen([sys.executable, "-m", "sigma_cloud.cli", "cognition", "--poll-s", "0.2",
                             "--http-port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/readyz", proc, "the worker", timeout=60)
        deadline = time.monotonic() + 60
        assert httpx.get(url + "/healthz", timeout=5).text == "every loop progressing\n"
        while cloud.http.get(f"/v1/cognition/robots/{robot.robot_id}/memory",
                             headers=cloud.token()).status_code != 200:  # its cursor, at the robot's head
            assert time.monotonic() < deadline, "the worker gave the robot no cursor"
            time.sleep(0.1)
        post(cloud, robot, anomalous(robot, time.time() - 3.5))
        while not samples(httpx.get(url + "/metrics", timeout=5).text, "sigma_cognition_proposals_total",
                          rule=rules.HOLD, action="hold"):
            assert time.monotonic() < deadline + 30, "no hold counted in the worker's metrics"
            time.sleep(0.2)
        text = httpx.get(url + "/metrics", timeout=5).text
        assert samples(text, "sigma_cognition_last_success_timestamp_seconds", loop=SITE) > time.time() - 30
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/healthz", timeout=2)
