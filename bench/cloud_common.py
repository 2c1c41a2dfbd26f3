"""Shared helpers for the cloud benchmarks: an embedded PostgreSQL, a uvicorn subprocess, simulated robots."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import psycopg

import sigma_protocol as protocol
from sigma_cloud.core.bootstrap import prepare
from sigma_cloud.core.config import Settings
from sigma_cloud.core.embedded import EmbeddedPostgres, free_port
from sigma_cloud.core.security import mint_token

JOINTS6 = ["left_hip_pitch", "left_knee", "left_ankle_pitch", "right_hip_pitch", "right_knee", "right_ankle_pitch"]


def payload(channel: str, k: int) -> dict:
    """A realistic small payload per channel (SI units)."""
    s = math.sin(k * 0.01)
    if channel == "imu":
        return {"orientation": [0.0, 0.0, s * 0.1, 1.0], "angular_velocity": [0.01, -0.02, s],
                "linear_acceleration": [0.1, 0.0, 9.81]}
    if channel == "odom":
        return {"position": [s, 2.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0], "linear": [0.5, 0.0, 0.0],
                "angular": [0.0, 0.0, 0.1]}
    if channel == "joint_states":
        return {"name": JOINTS6, "position": [s] * 6, "velocity": [0.1] * 6, "effort": [12.0] * 6}
    if channel == "actuator_health":
        return {"name": JOINTS6[:4], "temperature": [41.0 + s] * 4, "current": [2.1] * 4, "voltage": [48.0] * 4}
    if channel == "battery":
        return {"voltage": 48.0 + s, "current": 3.0, "percentage": 0.8, "temperature": 30.0}
    return {"level": 0, "authority": 0, "sequence": k}


MIX = ["imu", "odom", "joint_states", "imu", "battery", "odom", "imu", "actuator_health", "odom", "safety_status"]


PAYLOAD_BYTES = {channel: json.dumps(payload(channel, 1), separators=(",", ":")).encode() for channel in set(MIX)}


def encode_batch_fast(robot_id: str, start_seq: int, n: int, now: float) -> bytes:
    """The same bytes protocol.encode_batch would produce for make_events-like events, built cheaply so the load
    generator (which shares the machine's cores with the service) costs little CPU per event."""
    ts = repr(now).encode()
    parts = [b'{"seq":%d,"ts":%s,"channel":"%s","payload":%s}' % (
        seq, ts, MIX[seq % len(MIX)].encode(), PAYLOAD_BYTES[MIX[seq % len(MIX)]]) for seq in range(start_seq,
                                                                                                start_seq + n)]
    return b'{"robot_id":"%s","events":[%s]}' % (robot_id.encode(), b",".join(parts))


_COLUMNAR_TEMPLATES: dict[tuple[int, int], list[tuple[bytes, np.ndarray, bytes]]] = {}


def encode_batch_fast_columnar(robot_id: str, start_seq: int, n: int, now: float) -> bytes:
    """The same events as encode_batch_fast in batch format 2 (sigma_protocol.encode_columnar_batch's JSON), built
    from a cached per-shape template so the load generator costs little CPU per event."""
    key = (start_seq % len(MIX), n)
    template = _COLUMNAR_TEMPLATES.get(key)
    if template is None:
        events = [{"seq": start_seq + i, "ts": 0.0, "channel": MIX[(start_seq + i) % len(MIX)],
                   "payload": payload(MIX[(start_seq + i) % len(MIX)], 1)} for i in range(n)]
        template = []
        for block in orjson.loads(protocol.encode_columnar_batch(robot_id, events))["blocks"]:
            offsets = np.asarray(block.pop("seq"), dtype=np.int64) - start_seq
            block.pop("ts")
            head = b'{"channel":"' + block.pop("channel").encode() + b'","seq":'
            template.append((head, offsets, b"," + orjson.dumps(block)[1:]))
        _COLUMNAR_TEMPLATES[key] = template
    blocks = [b"%s%s,\"ts\":%s%s" % (head, orjson.dumps(offsets + start_seq, option=orjson.OPT_SERIALIZE_NUMPY),
                                      b"[" + b",".join([repr(now).encode()] * len(offsets)) + b"]", rest)
              for head, offsets, rest in template]
    return b'{"robot_id":"%s","format":2,"blocks":[%s]}' % (robot_id.encode(), b",".join(blocks))


def make_events(start_seq: int, n: int, now: float) -> list[dict]:
    return [{"seq": start_seq + i, "ts": now, "channel": MIX[(start_seq + i) % len(MIX)],
             "payload": payload(MIX[(start_seq + i) % len(MIX)], start_seq + i)} for i in range(n)]


class Stack:
    """Embedded PostgreSQL (fsync on: acks are durable) + the service in a uvicorn subprocess."""

    def __init__(self, workers: int = 1, uvicorn_args: tuple[str, ...] = (), pool_max_size: int | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sigma-bench-"))
        self.settings = Settings(environment="development", data_dir=self.tmp, maintenance_interval_s=3600,
                                 pool_max_size=12)
        self.pg = EmbeddedPostgres(self.tmp / "pg", settings={"fsync": "on", "synchronous_commit": "on",
                                                              "max_connections": "100"})
        self.workers = workers
        self.pool_max_size = pool_max_size or max(4, 12 // workers)  # per API process
        self.uvicorn_args = uvicorn_args
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Stack:
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> Stack:
        self.pg.start()
        self.runtime = prepare(self.settings, self.pg)
        secrets = json.loads((self.tmp / "secrets.json").read_text())
        self.port = free_port()
        env = {**os.environ, "DATABASE_URL": self.runtime.owner_url, "SIGMA_DATA_DIR": str(self.tmp),
               "SIGMA_JWT_SECRET": secrets["jwt_secret"], "SIGMA_API_DB_PASSWORD": secrets["api_db_password"],
               "SIGMA_MAINTENANCE_INTERVAL_S": "3600", "SIGMA_LOG_LEVEL": "WARNING",
               "SIGMA_POOL_MAX_SIZE": str(self.pool_max_size)}
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "sigma_cloud.app.asgi:app", "--host",
                                      "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                                      "--log-level", "warning", "--no-access-log", *self.uvicorn_args], env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180  # generous: the shared host may be starved
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("service did not become ready")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a starved host: never leave the service behind
                    self.proc.kill()
                    self.proc.wait(timeout=30)
        finally:
            self.pg.stop("fast")
            shutil.rmtree(self.tmp, ignore_errors=True)

    def admin_headers(self) -> dict:
        token = mint_token(self.settings, self.runtime.jwt_secret, subject="bench", role="fleet_admin", sites=[],
                           now=time.time())
        return {"Authorization": f"Bearer {token}"}

    def register(self, n: int) -> list[tuple[str, str]]:
        """Register n robots at one site; returns (robot_id, seed)."""
        robots = []
        with httpx.Client(base_url=self.url, headers=self.admin_headers(), timeout=30) as client:
            client.post("/v1/sites", json={"site_id": "bench", "name": "Bench"})
            for i in range(n):
                seed, public = protocol.generate_keypair()
                r = client.post("/v1/robots", json={"robot_id": f"r{i:05d}", "site_id": "bench", "public_key": public})
                r.raise_for_status()
                robots.append((f"r{i:05d}", seed))
        return robots

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by the service (uvicorn and its workers) and by PostgreSQL (every backend,
        also those that have exited: the postmaster's reaped children)."""
        import psutil

        out = {}
        postmaster = int((self.pg.pgdata / "postmaster.pid").read_text().split()[0])
        for part, root in (("api", self.proc.pid if self.proc else None), ("pg", postmaster)):
            total = 0.0
            if root is not None:
                parent = psutil.Process(root)
                for proc in (parent, *parent.children(recursive=True)):
                    try:
                        times = proc.cpu_times()
                    except psutil.Error:  # ended between listing and reading
                        continue
                    total += times.user + times.system
                    if proc is parent:
                        total += times.children_user + times.children_system
            out[part] = total
        return out

    def count(self) -> int:
        with psycopg.connect(self.runtime.owner_url) as conn:
            return conn.execute("SELECT count(*) FROM telemetry").fetchone()[0]
