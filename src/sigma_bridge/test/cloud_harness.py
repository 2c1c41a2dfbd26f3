"""Real processes for end-to-end tests: the sigma_cloud service (its `serve` entry point, embedded PostgreSQL)
and read-only views of the bridge's store, polled until a condition holds (no fixed sleeps)."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

import sigma_protocol as protocol
from sigma_cloud.core.bootstrap import prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import EmbeddedPostgres
from sigma_cloud.core.security import mint_token

CHANNEL_NAMES = {i: name for name, i in protocol.CHANNEL_IDS.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond: Callable[[], Any], timeout: float, what: str, period: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(period)


class Cloud:
    """The cloud service as a real process on a fixed port; the database outlives service restarts."""

    def __init__(self, launch, data_dir: Path) -> None:
        self.launch = launch
        self.data_dir = data_dir
        self.settings = Settings(data_dir=data_dir, environment="test")
        try:
            self.runtime = prepare(self.settings)  # starts the embedded PostgreSQL, migrates
        except subprocess.CalledProcessError:
            # initdb can fail while another test run re-applies permissions to the shared server binaries.
            shutil.rmtree(data_dir / "pg", ignore_errors=True)
            self.runtime = prepare(self.settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        env = {"SIGMA_DATA_DIR": str(self.data_dir), "SIGMA_ENVIRONMENT": "test"}
        self.proc = self.launch.command([sys.executable, "-m", "sigma_cloud.cli", "serve", "--port", str(self.port)],
                                        label="cloud", env=env)
        wait_until(self._healthy, 60, "cloud /healthz")

    def start_replica(self) -> str:
        """Another `serve` process on the same database (e.g. the decision path's replica, docs/deploy.md); its URL.
        Stopped with the test's launch fixture."""
        port = free_port()
        env = {"SIGMA_DATA_DIR": str(self.data_dir), "SIGMA_ENVIRONMENT": "test"}
        proc = self.launch.command([sys.executable, "-m", "sigma_cloud.cli", "serve", "--port", str(port)],
                                   label=f"cloud-replica-{port}", env=env)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if not proc.alive:
                raise RuntimeError(f"cloud replica exited:\n{proc.output()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "cloud replica /healthz")
        return url

    def _healthy(self) -> bool:
        if self.proc is not None and not self.proc.alive:
            raise RuntimeError(f"cloud exited:\n{self.proc.output()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def headers(self) -> dict[str, str]:
        tok = mint_token(self.settings, self.runtime.jwt_secret, subject="e2e", role="fleet_admin", sites=[],
                         now=time.time())
        return {"Authorization": f"Bearer {tok}"}

    def register(self, robot_id: str, public_key: str, site: str = "site-a") -> None:
        r = httpx.post(f"{self.url}/v1/sites", json={"site_id": site, "name": site}, headers=self.headers())
        assert r.status_code in (201, 409), r.text
        r = httpx.post(f"{self.url}/v1/robots", json={"robot_id": robot_id, "site_id": site,
                                                      "public_key": public_key}, headers=self.headers())
        assert r.status_code == 201, r.text

    def decide(self, robot_id: str, action: str, ttl_s: float, **params: str) -> str:
        body = {"robot_id": robot_id, "action": action, "source": 0, "confidence": 0.9, "parameters": params,
                "ttl_s": ttl_s}
        r = httpx.post(f"{self.url}/v1/decisions", json=body, headers=self.headers())
        assert r.status_code == 201, r.text
        return str(r.json()["decision_id"])

    def decision(self, decision_id: str) -> dict:
        r = httpx.get(f"{self.url}/v1/decisions/{decision_id}", headers=self.headers())
        assert r.status_code == 200, r.text
        return r.json()

    def telemetry_counts(self, robot_id: str) -> dict[str, tuple[int, int]]:
        """Per channel: (rows, distinct seqs) stored for the robot."""
        with psycopg.connect(self.runtime.owner_url) as conn:
            rows = conn.execute("SELECT channel, count(*), count(DISTINCT seq) FROM telemetry WHERE robot_id = %s "
                                "GROUP BY channel", (robot_id,)).fetchall()
        return {CHANNEL_NAMES[c]: (n, d) for c, n, d in rows}

    def query(self, sql: str, *args: Any) -> list[tuple]:
        with psycopg.connect(self.runtime.owner_url) as conn:
            return conn.execute(sql, args).fetchall()

    def close(self) -> None:
        self.stop()
        EmbeddedPostgres(self.data_dir / "pg").stop()


@contextmanager
def cloud_in_tempdir(launch: Any, prefix: str) -> Iterator[Cloud]:
    """A ``Cloud`` (not started) under a fresh directory, removed afterwards. Not under pytest's tmp_path: its 0700
    parents keep the embedded PostgreSQL server's own user out."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    c = Cloud(launch, root / "cloud")
    try:
        yield c
    finally:
        c.close()
        shutil.rmtree(root, ignore_errors=True)


def store_counters(db: Path) -> dict[str, dict[str, int]]:
    """The bridge store's persisted counters {kind: {channel: n}} plus {"pending": {"all": n}} (read-only)."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        out: dict[str, dict[str, int]] = {}
        for name, ch, value in conn.execute("SELECT name, channel, value FROM counters"):
            out.setdefault(name, {})[ch] = value
        out["pending"] = {"all": conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]}
        return out
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def store_inflight(db: Path) -> list[int]:
    """Wire seqs of the bridge's unacknowledged batch (planned, maybe sent), read-only; [] when none."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        return [r[0] for r in conn.execute("SELECT wire_seq FROM events WHERE wire_seq IS NOT NULL ORDER BY wire_seq")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def sent(counters: dict[str, dict[str, int]]) -> dict[str, int]:
    """Per channel: events durably enqueued minus those dropped or refused (what must reach the database)."""
    out = {}
    for ch, n in counters.get("enqueued", {}).items():
        out[ch] = n - counters.get("dropped", {}).get(ch, 0) - counters.get("rejected", {}).get(ch, 0)
    return out
