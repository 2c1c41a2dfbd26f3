"""Incident recordings to the cloud: each black-box MCAP the bridge wrote is uploaded in signed, resumable chunks
(docs/cognition.md, "Incident recordings"), after the live telemetry and never starving it.

- :func:`recording_path` / :func:`plan_chunk` are pure: the request for the next chunk of a file.
- :class:`RecordingUploader` is a worker thread with its own HTTP connection: it uploads one chunk at a time, only
  while the telemetry store holds no more than one batch (``busy()`` false), at most ``rate`` bytes per second.
  The cloud keeps what it received, so a restarted bridge (or a lost answer) resumes where the cloud is: a chunk at
  the wrong offset is answered 409 with ``received``. A finished file gets a ``<name>.uploaded`` marker beside it;
  one the cloud refuses for good (bad name, conflict) gets ``<name>.refused`` with the reason, and is not retried.
No rclpy here.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from sigma_bridge.uplink import Backoff, UplinkClient

log = logging.getLogger("sigma_bridge.recordings")
RECORDING_PATH = "/v1/devices/{robot_id}/recordings/{name}"  # the cloud's route (sigma_cloud api/routes/recordings)
UPLOADED, REFUSED = ".uploaded", ".refused"


@dataclass(frozen=True)
class FileInfo:
    """A recording as uploaded: its path, size and SHA-256 (hex)."""

    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> FileInfo:
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
                size += len(block)
        return cls(path, size, h.hexdigest())


def recording_path(robot_id: str, info: FileInfo, offset: int) -> str:
    """The signed request path for the chunk starting at `offset`."""
    return (RECORDING_PATH.format(robot_id=robot_id, name=info.path.name)
            + f"?offset={offset}&size={info.size}&sha256={info.sha256}")


def plan_chunk(size: int, offset: int, chunk_bytes: int) -> tuple[int, int]:
    """(start, length) of the next chunk; length 0 when the file is all sent."""
    if not 0 <= offset <= size or chunk_bytes <= 0:
        raise ValueError(f"offset {offset} outside 0..{size} or chunk size {chunk_bytes} <= 0")
    return offset, min(chunk_bytes, size - offset)


def pending_files(directory: Path) -> list[Path]:
    """Recordings in `directory` not yet uploaded nor refused, oldest first."""
    if not directory.is_dir():
        return []
    files = [p for p in directory.glob("*.mcap")
             if not p.with_name(p.name + UPLOADED).exists() and not p.with_name(p.name + REFUSED).exists()]
    return sorted(files, key=lambda p: p.stat().st_mtime)


class RecordingUploader(threading.Thread):
    """Uploads queued recordings chunk by chunk; `busy()` true means the live telemetry goes first."""

    def __init__(self, client: UplinkClient, directory: Path, busy: Callable[[], bool], *, rate: float,
                 chunk_bytes: int = 128 * 1024) -> None:
        super().__init__(name="bridge-recordings", daemon=True)
        self.client, self.directory, self.busy, self.rate, self.chunk_bytes = client, directory, busy, rate, chunk_bytes
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.queue: deque[Path] = deque(pending_files(directory))  # what an earlier incarnation left
        self.uploaded = 0
        self.refused = 0
        self.bytes_sent = 0
        self.last_error = ""
        self.backoff = Backoff(base=0.5, cap=10.0)

    def enqueue(self, path: str | Path) -> None:
        """A new recording was written (called from the recorder thread)."""
        self.queue.append(Path(path))
        self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.is_alive():
            self.join(timeout)

    def upload(self, path: Path) -> str:
        """Upload one file completely (or until stopped): 'uploaded', 'refused' or 'stopped'. Network errors and
        5xx answers are retried with backoff."""
        info = FileInfo.of(path)
        offset = 0
        with open(path, "rb") as f:
            while not self.stop_event.is_set():
                if self.busy():
                    self.stop_event.wait(0.2)
                    continue
                start, length = plan_chunk(info.size, offset, self.chunk_bytes)
                if not length:  # only an empty file (the cloud completes a file with its last chunk)
                    return self._mark(path, REFUSED, "empty file")
                f.seek(start)
                body = f.read(length)
                try:
                    r = self.client.request("PUT", recording_path(self.client.robot_id, info, start), body,
                                            time.time(), content_type="application/octet-stream")
                except httpx.HTTPError as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self.stop_event.wait(self.backoff.next_delay())
                    continue
                data = _json(r)
                if r.status_code == 200:
                    self.backoff.reset()
                    self.bytes_sent += len(body)
                    if data.get("complete"):
                        return self._mark(path, UPLOADED, f"{info.size} bytes, sha256 {info.sha256}")
                    offset = int(data.get("received", start + len(body)))
                    self.stop_event.wait(len(body) / self.rate if self.rate > 0 else 0.0)
                    continue
                kind = str(data.get("type", "")).rsplit("/", 1)[-1]
                self.last_error = f"HTTP {r.status_code} {kind}: {data.get('detail', '')}"
                if kind in ("offset-mismatch", "recording-refused") and "received" in data:
                    offset = int(data["received"])  # resume where the cloud is (0 after a digest mismatch)
                    continue
                if r.status_code in (400, 403, 404, 409, 413, 422) and kind != "replay":
                    return self._mark(path, REFUSED, self.last_error)
                self.stop_event.wait(self.backoff.next_delay(_retry_after(r)))
        return "stopped"

    def _mark(self, path: Path, suffix: str, detail: str) -> str:
        path.with_name(path.name + suffix).write_text(detail + "\n")
        if suffix == UPLOADED:
            self.uploaded += 1
            log.info("recording %s uploaded (%s)", path.name, detail)
            return "uploaded"
        self.refused += 1
        log.error("recording %s refused by the cloud for good: %s", path.name, detail)
        return "refused"

    def run(self) -> None:
        while not self.stop_event.is_set():
            if not self.queue:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            path = self.queue[0]
            try:
                if path.is_file() and not path.with_name(path.name + UPLOADED).exists():
                    self.upload(path)
            except OSError as exc:  # the file vanished or is unreadable: reported, the next one goes on
                self.last_error = f"{path}: {exc}"
                log.error("recording %s: %s", path, exc)
            if not self.stop_event.is_set():
                self.queue.popleft()


def _json(r: httpx.Response) -> dict:
    try:
        data = orjson.loads(r.content) if r.content else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(r: httpx.Response) -> float | None:
    try:
        return float(r.headers["retry-after"])
    except (KeyError, ValueError):
        return None
