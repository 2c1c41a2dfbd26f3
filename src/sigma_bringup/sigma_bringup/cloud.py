"""The cloud tier as the demo uses it: its server process, a bearer token, and the few API calls the demo makes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from ament_index_python.packages import get_package_prefix


def cloud_executable() -> str:
    return str(Path(get_package_prefix("sigma_cloud")) / "lib" / "sigma_cloud" / "sigma-cloud")


class CloudProcess:
    """``sigma-cloud serve`` on the embedded PostgreSQL kept in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.data_dir, self.port, self.log_path = data_dir, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ, SIGMA_DATA_DIR=str(data_dir))
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.popen = subprocess.Popen(  # noqa: S603 - argument list
            [cloud_executable(), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until ``/readyz`` answers 200; raise with the server log's tail if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"the cloud server exited ({self.popen.returncode}):\n{self._tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"the cloud server was not ready within {timeout} s:\n{self._tail()}")

    def token(self, role: str = "fleet_admin") -> str:
        out = subprocess.run(  # noqa: S603 - argument list, no shell
            [cloud_executable(), "token", "--role", role, "--subject", "sigma-demo"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"sigma-cloud token failed: {out.stderr.strip()}")
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.popen is None:
            return
        for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                break
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self._stop_embedded_postgres()

    def _stop_embedded_postgres(self) -> None:
        """Safety net: the server stops its embedded PostgreSQL on exit, but not when it was killed."""
        pg = self.data_dir / "pg"
        if not pg.exists() or not any(pg.rglob("postmaster.pid")):
            return
        from sigma_cloud.core.embedded import EmbeddedPostgres

        EmbeddedPostgres(pg).stop()

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


class CloudApi:
    """The fleet REST API calls of the demo, as a fleet admin."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)

    def ensure_site(self, site_id: str) -> None:
        r = self.client.post("/v1/sites", json={"site_id": site_id, "name": site_id})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"creating site {site_id}: {r.status_code} {r.text}")

    def ensure_robot(self, robot_id: str, site_id: str, public_key: str) -> None:
        r = self.client.post("/v1/robots", json={"robot_id": robot_id, "site_id": site_id, "public_key": public_key})
        if r.status_code == 409:
            known = self.client.get(f"/v1/robots/{robot_id}").json()
            if known.get("public_key") != public_key:
                raise RuntimeError(f"robot {robot_id} is registered with another key; use a fresh --data-dir")
        elif r.status_code != 201:
            raise RuntimeError(f"registering robot {robot_id}: {r.status_code} {r.text}")

    def telemetry_count(self, robot_id: str, since: dt.datetime) -> int:
        end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
        r = self.client.get(
            f"/v1/robots/{robot_id}/telemetry",
            params={"start": since.isoformat(), "end": end.isoformat(), "bucket_s": 86400},
        )
        r.raise_for_status()
        return sum(int(item["count"]) for item in r.json()["items"])

    def safety_event_count(self, robot_id: str, since: dt.datetime | None = None) -> int:
        """Safety events the cloud holds for the robot (those stamped at or after ``since``, when given)."""
        total, offset = 0, 0
        while True:
            params = {"robot_id": robot_id, "limit": 1000, "offset": offset}
            if since is not None:
                params["since"] = since.isoformat()
            r = self.client.get("/v1/safety-events", params=params)
            r.raise_for_status()
            body = r.json()
            total += len(body["items"])
            if body.get("next_offset") is None:
                return total
            offset = body["next_offset"]

    def close(self) -> None:
        self.client.close()
