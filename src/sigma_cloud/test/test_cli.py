"""`sigma-cloud` end to end: serve with its own embedded PostgreSQL, mint a token, register a robot, shut down."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sigma_cloud.core.embedded import EmbeddedPostgres, free_port


def _cli(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sigma_cloud.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 90.0) -> None:
    """Until ``url`` answers 200 (the process still running, within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, f"{what} did not become ready"
        time.sleep(0.2)


def test_serve_token_register_and_clean_shutdown() -> None:
    data = Path(tempfile.mkdtemp(prefix="sigma-cloud-cli-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_") and k != "DATABASE_URL"}
    env["SIGMA_DATA_DIR"] = str(data)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sigma_cloud.cli", "serve", "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/readyz", server, "sigma-cloud serve")
        secrets = json.loads((data / "secrets.json").read_text())
        assert oct((data / "secrets.json").stat().st_mode & 0o777) == "0o600"
        assert all(v.startswith("dev-") for v in secrets.values())
        token = _cli(env, "token", "--role", "site_manager", "--sites", "cli-site")
        keys = json.loads(_cli(env, "robot", "keygen", "--out", str(data / "robot.seed")))
        _cli(env, "site", "create", "cli-site")
        _cli(env, "robot", "register", "cli-r1", "--site", "cli-site", "--public-key", keys["public_key"])
        robots = httpx.get(url + "/v1/robots", headers={"Authorization": f"Bearer {token}"}).json()["items"]
        assert [r["robot_id"] for r in robots] == ["cli-r1"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        assert not EmbeddedPostgres(data / "pg").running(), "serve must stop the embedded server it started"
        shutil.rmtree(data, ignore_errors=True)
