"""Robot-side adoption of fleet models (federated learning, docs/cognition.md): the bridge fetches the newest fleet
anomaly model over the signed device channel, runs the shadow check on the robot's own recent labelled data
(`sigma_protocol.federated.shadow_check`: the candidate must not be less accurate than the current model by more than
the margin), adopts it or keeps the current one, and reports the verdict with the figures to the cloud.

Files in ``model_dir`` (the robot's side of the model, never uploaded as data):
- ``current.json`` — the model in use ``{"version", "model"}`` (written atomically on adoption; absent: none yet);
- ``recent.jsonl`` — the robot's recent labelled feature vectors, one ``{"x": [...], "label": "..."}`` per line,
  written by the robot's local learner (the last ``max_recent`` lines are read; malformed lines are skipped).
Without a current model the baseline is "everything is normal" (what a robot without a model effectively says).

:func:`evaluate` is pure; :class:`ModelAdopter` is a worker thread with its own HTTP connection. No rclpy here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from sigma_bridge.uplink import Backoff, UplinkClient
from sigma_protocol import federated

log = logging.getLogger("sigma_bridge.models")
MODEL_PATH = "/v1/devices/{robot_id}/model"
ADOPTION_PATH = "/v1/devices/{robot_id}/model-adoption"


@dataclass(frozen=True)
class Verdict:
    """The shadow check's outcome for one candidate version."""

    version: int
    previous_version: int
    adopted: bool
    reason: str
    local_accuracy: float
    candidate_accuracy: float
    samples: int

    def report(self) -> dict[str, Any]:
        return {"version": self.version, "previous_version": self.previous_version, "adopted": self.adopted,
                "reason": self.reason[:1000], "local_accuracy": round(self.local_accuracy, 6),
                "candidate_accuracy": round(self.candidate_accuracy, 6), "samples": self.samples}


def always_normal(dim: int) -> federated.Model:
    """The baseline of a robot without a model: one class, `normal` (every vector is judged normal)."""
    return federated.Model(dim, {federated.NORMAL: federated.ClassStats(1, (0.0,) * dim, (1.0,) * dim)})


def evaluate(current: federated.Model | None, current_version: int, candidate: federated.Model, version: int,
             recent: list[tuple[list[float], str]], margin: float = 0.02) -> Verdict:
    """Shadow-check `candidate` (fleet version `version`) against the current model on `recent` data."""
    local = current if current is not None else always_normal(candidate.dim)
    usable = [(x, label) for x, label in recent if len(x) == candidate.dim]
    adopt, reason = federated.shadow_check(local, candidate, usable, margin)
    if current is None:
        reason = f"no model yet (baseline: all normal); {reason}"
    return Verdict(version, current_version, adopt, reason, federated.accuracy(local, usable),
                   federated.accuracy(candidate, usable), len(usable))


def read_recent(path: Path, max_recent: int) -> list[tuple[list[float], str]]:
    """The last `max_recent` well-formed labelled vectors of `recent.jsonl` ([] when there is none)."""
    if not path.is_file():
        return []
    out: deque[tuple[list[float], str]] = deque(maxlen=max_recent)
    with open(path, "rb") as f:
        for line in f:
            try:
                row = orjson.loads(line)
                x, label = row["x"], row["label"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if isinstance(label, str) and isinstance(x, list) and all(isinstance(v, int | float) for v in x):
                out.append(([float(v) for v in x], label))
    return list(out)


def read_current(path: Path) -> tuple[federated.Model | None, int]:
    """The model in use and its version ((None, 0) when there is none or the file is unreadable)."""
    try:
        data = orjson.loads(path.read_bytes())
        return federated.from_json(data["model"], int(data["model"].get("dim", -1))), int(data["version"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None, 0


def write_current(path: Path, version: int, model_json: dict) -> None:
    """Adopt: replace the model in use atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.part")
    tmp.write_bytes(orjson.dumps({"version": version, "model": model_json}))
    os.replace(tmp, path)


class ModelAdopter(threading.Thread):
    """Every `period` seconds: fetch the fleet model; a version newer than the last one checked is shadow-checked,
    adopted or not, and reported."""

    def __init__(self, client: UplinkClient, model_dir: Path, *, period: float, margin: float = 0.02,
                 max_recent: int = 2000) -> None:
        super().__init__(name="bridge-models", daemon=True)
        self.client, self.model_dir, self.period, self.margin, self.max_recent = (client, model_dir, period, margin,
                                                                                  max_recent)
        self.stop_event = threading.Event()
        self.backoff = Backoff(base=1.0, cap=60.0)
        self.in_use = self.checked_version = read_current(model_dir / "current.json")[1]
        self.verdicts: list[Verdict] = []
        self.last_error = ""

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)

    def check_once(self) -> Verdict | None:
        """One fetch; returns the verdict on a new version (None when there is nothing new)."""
        path = MODEL_PATH.format(robot_id=self.client.robot_id)
        r = self.client.request("GET", path, b"", time.time())
        if r.status_code == 404:
            return None  # no fleet model published yet
        if r.status_code != 200:
            raise RuntimeError(f"model: HTTP {r.status_code} {r.text[:200]}")
        data = orjson.loads(r.content)
        version = int(data["version"])
        if version <= self.checked_version:
            return None
        candidate = federated.from_json(data["model"], int(data["model"].get("dim", -1)))
        current, current_version = read_current(self.model_dir / "current.json")
        recent = read_recent(self.model_dir / "recent.jsonl", self.max_recent)
        verdict = evaluate(current, current_version, candidate, version, recent, self.margin)
        if verdict.adopted:
            write_current(self.model_dir / "current.json", version, data["model"])
            self.in_use = version
        body = orjson.dumps(verdict.report())
        a = self.client.request("POST", ADOPTION_PATH.format(robot_id=self.client.robot_id), body, time.time())
        if a.status_code != 201:
            raise RuntimeError(f"adoption report v{version}: HTTP {a.status_code} {a.text[:200]}")
        self.checked_version = version  # reported: not checked again (a refused version stays refused)
        self.verdicts.append(verdict)
        log.info("fleet model v%d %s: %s", version, "adopted" if verdict.adopted else "refused", verdict.reason)
        return verdict

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.check_once()
                self.backoff.reset()
                delay = self.period
            except (httpx.HTTPError, RuntimeError, ValueError, KeyError, TypeError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = max(self.period, self.backoff.next_delay())
            self.stop_event.wait(delay)
