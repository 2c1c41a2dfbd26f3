"""The cloud tier as the demo uses it: its server process, a bearer token, and the few API calls the demo makes."""

from __future__ import annotations

import contextlib
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


class CognitionWorker:
    """``sigma-cloud cognition``: the Primary AI worker (docs/cognition.md), on the running cloud's database."""

    def __init__(self, cloud: CloudProcess, log_path: Path) -> None:
        self.cloud, self.log_path = cloud, log_path
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.popen = subprocess.Popen(  # noqa: S603 - argument list
            [cloud_executable(), "cognition", "--poll-s", "0.25"], env=self.cloud.env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> int | None:
        """``kill -9`` of the worker (the cloud's Primary AI lost mid-run); its pid, None where it did not run."""
        if self.popen is None or self.popen.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10.0)
        return self.popen.pid

    def stop(self) -> None:
        """SIGINT, then SIGKILL after 10 s (before the cloud's database stops)."""
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig in (signal.SIGINT, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(10.0)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


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

    def roster_key(self, site_id: str) -> str:
        """The public key (base64) the cloud signs the site's swarm roster with (swarm nodes' ``cloud_roster_key``)."""
        r = self.client.get(f"/v1/sites/{site_id}/roster/key")
        if r.status_code != 200:
            raise RuntimeError(f"roster key of site {site_id}: {r.status_code} {r.text[:200]}")
        return str(r.json()["public_key"])

    def swarm_leaders(self, site_id: str) -> dict[int, str]:
        """Leader of each recent term of the site, as its robots reported them to the cloud."""
        r = self.client.get(f"/v1/sites/{site_id}/swarm/leaders")
        r.raise_for_status()
        return {int(item["term"]): str(item["leader"]) for item in r.json()["items"]}

    def cognition_actions(self, robot_id: str, since: dt.datetime) -> list[dict]:
        """What the Primary AI did about ``robot_id`` since ``since`` (rule, action, confidence, explanation)."""
        r = self.client.get("/v1/cognition/actions", params={"robot_id": robot_id, "limit": 100})
        r.raise_for_status()
        return [a for a in r.json()["items"] if dt.datetime.fromisoformat(a["created_at"]) >= since]

    def decision(self, decision_id: str) -> dict:
        """A decision's record: ``status`` pending / applied / rejected / expired, as the robot acked it."""
        r = self.client.get(f"/v1/decisions/{decision_id}")
        r.raise_for_status()
        return dict(r.json())

    def put_places(self, site_id: str, places: list[dict]) -> None:
        """Register the site's named places (the task API validates task places against them)."""
        r = self.client.put(f"/v1/sites/{site_id}/places", json={"places": places})
        if r.status_code != 200:
            raise RuntimeError(f"places of site {site_id}: {r.status_code} {r.text[:300]}")

    def create_task(self, site_id: str, body: dict, key: str) -> dict:
        """POST a fleet task (idempotent under ``key``); returns its detail (``task_id``, ``sent_to_leader``)."""
        r = self.client.post(f"/v1/sites/{site_id}/tasks", json=body, headers={"Idempotency-Key": key})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"creating task {body}: {r.status_code} {r.text[:300]}")
        return r.json()

    def task(self, site_id: str, task_id: str) -> dict:
        r = self.client.get(f"/v1/sites/{site_id}/tasks/{task_id}")
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        self.client.close()
