"""Session fixtures: one real embedded PostgreSQL (temp dir, free port) and one real uvicorn server (thread)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

import sigma_protocol as protocol
from sigma_cloud.core.bootstrap import Runtime, prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import EmbeddedPostgres, free_port
from sigma_cloud.core.security import mint_token

for _name in ("DATABASE_URL", "SIGMA_DATABASE_URL", "SIGMA_API_DATABASE_URL", "SIGMA_JWT_SECRET"):
    os.environ.pop(_name, None)


@dataclass
class Robot:
    robot_id: str
    site_id: str
    seed: str
    public_key: str
    next_seq: int = 1

    def events(self, n: int, now: float, channel: str = "battery") -> list[dict]:
        out = []
        for _ in range(n):
            payload = {"voltage": 48.0 + (self.next_seq % 7) * 0.01, "current": 3.2, "percentage": 0.8}
            if channel == "joint_states":
                payload = {"name": ["a", "b"], "position": [0.1, 0.2], "velocity": [0.0, 0.0], "effort": [1.0, 2.0]}
            out.append({"seq": self.next_seq, "ts": now - 0.5, "channel": channel, "payload": payload})
            self.next_seq += 1
        return out


@dataclass
class Cloud:
    """A running service: base URL, settings, runtime, and helpers to act as people and robots."""

    url: str
    settings: Settings
    runtime: Runtime
    server: EmbeddedPostgres
    http: httpx.Client
    robots: dict[str, Robot] = field(default_factory=dict)

    def token(self, role: str = "fleet_admin", sites: tuple[str, ...] = (), subject: str = "tester") -> dict:
        tok = mint_token(self.settings, self.runtime.jwt_secret, subject=subject, role=role, sites=list(sites),
                         now=time.time())
        return {"Authorization": f"Bearer {tok}"}

    def ensure_site(self, site_id: str) -> None:
        r = self.http.post("/v1/sites", json={"site_id": site_id, "name": site_id.upper()}, headers=self.token())
        assert r.status_code in (201, 409), r.text

    def robot(self, robot_id: str, site_id: str = "site-a") -> Robot:
        if robot_id in self.robots:
            return self.robots[robot_id]
        self.ensure_site(site_id)
        seed, public = protocol.generate_keypair()
        r = self.http.post("/v1/robots", json={"robot_id": robot_id, "site_id": site_id, "public_key": public},
                           headers=self.token())
        assert r.status_code == 201, r.text
        self.robots[robot_id] = Robot(robot_id, site_id, seed, public)
        return self.robots[robot_id]

    def post_batch(self, robot: Robot, events: list[dict], *, body: bytes | None = None,
                   headers: dict | None = None) -> httpx.Response:
        body = protocol.encode_batch(robot.robot_id, events) if body is None else body
        signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
        return self.http.post(protocol.INGEST_PATH, content=body,
                              headers={**signed, "Content-Type": "application/json", **(headers or {})})

    def device_get(self, robot: Robot, path: str) -> httpx.Response:
        signed = protocol.sign_request(robot.seed, "GET", path, robot.robot_id, b"", time.time())
        return self.http.get(path, headers=signed)

    def device_post(self, robot: Robot, path: str, body: bytes) -> httpx.Response:
        signed = protocol.sign_request(robot.seed, "POST", path, robot.robot_id, body, time.time())
        return self.http.post(path, content=body, headers=signed)


def withhold_body(port: int, robot: Robot, body: bytes) -> socket.socket:
    """A real client that sends a signed ingest batch's headers and withholds its body (send it with sendall)."""
    signed = protocol.sign_request(robot.seed, "POST", protocol.INGEST_PATH, robot.robot_id, body, time.time())
    head = [f"POST {protocol.INGEST_PATH} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
            "Content-Type: application/json", *(f"{k}: {v}" for k, v in signed.items())]
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    slow.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return slow


class ServerThread:
    """uvicorn in a background thread, stopped by should_exit."""

    def __init__(self, app: object, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert self.thread.is_alive(), "uvicorn thread died during start-up"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def pg_root() -> Iterator[Path]:
    # Not pytest's tmp_path: other pytest runs on this host reset /tmp/pytest-of-<user> to 0700, which would cut
    # the server (running as its own system user when we are root) off from its data directory.
    root = Path(tempfile.mkdtemp(prefix="sigma-cloud-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(pg_root: Path) -> Settings:
    return Settings(environment="test", data_dir=pg_root, maintenance_interval_s=3600, pool_max_size=8,
                    pool_timeout_s=1.5,
                    archive_url=str(pg_root / "archive"))


@pytest.fixture(scope="session")
def embedded(pg_root: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(pg_root / "pg", settings={"shared_buffers": "64MB", "fsync": "off"})
    server.start()
    yield server
    server.stop("immediate")


@pytest.fixture(scope="session")
def runtime(settings: Settings, embedded: EmbeddedPostgres) -> Runtime:
    return prepare(settings, embedded)


@pytest.fixture(scope="session")
def cloud(settings: Settings, runtime: Runtime, embedded: EmbeddedPostgres) -> Iterator[Cloud]:
    from sigma_cloud.app.main import create_app

    port = free_port()
    with ServerThread(create_app(settings, runtime, run_maintenance=False), port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield Cloud(f"http://127.0.0.1:{port}", settings, runtime, embedded, client)
