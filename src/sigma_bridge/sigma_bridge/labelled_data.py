"""The robot's labelled data for its local anomaly model (federated learning, docs/cognition.md): the bridge sees both
the model's inputs (the robot's own telemetry) and the outcome labels (the faults its safety supervisor raises), so
it writes them: ``model_dir/recent.jsonl``, one ``{"x": [64 values], "label": "...", "ts": t}`` per line, which the
fleet-model shadow check (model_adoption.py) reads.

- ``x`` is the incident signature of the robot's telemetry in a window (``sigma_protocol.signature``, the same
  64 values the cloud stores with each incident) over the anomaly scores of ``sigma_protocol.anomaly`` (the cloud's
  scorer), computed here on the bridge's own recent history: the older part warms the statistics up, the window is
  scored against them.
- A labelled fault sample: each safety event that raised faults, label = the rule of its most severe raised fault
  (e.g. ``motor_temperature``, ``emergency_stop``), window ``before_s`` before to ``after_s`` after the event.
  One sample per episode: a fault whose label was sampled less than ``history_s`` before it belongs to the same
  episode (a flapping watchdog raises and clears several times a second) and adds no sample — its window would
  repeat the last one, and scoring each would cost the bridge a signature per flap.
- A ``normal`` sample every ``normal_period_s`` of telemetry with no raised fault within ``history_s``.
- Bounded: ``history_s`` of telemetry in memory; the file keeps at most ``2 * max_samples`` lines (then it is
  rewritten with the newest ``max_samples``, atomically); the shadow check reads the last ``max_samples``.

Pure apart from the file (no rclpy): the bridge feeds :meth:`add` from its callbacks and calls :meth:`due` from
its timer, off the executor thread.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sigma_protocol.anomaly import AnomalyScorer, features
from sigma_protocol.channels import CHANNEL_IDS, CHANNELS
from sigma_protocol.federated import NORMAL
from sigma_protocol.signature import SIGNATURE_CHANNELS, signature

KINEMATIC_FIRST = ("joint_states", "odom")  # scored first: they set the robot's operating mode for the others


@dataclass(frozen=True)
class Sample:
    """One labelled sample as written."""

    ts: float
    label: str
    x: list[float]


def fault_label(payload: dict[str, Any]) -> str | None:
    """The label of a safety event: the rule of its most severe raised fault; None when it raised none."""
    raised = [f for f in payload.get("raised") or [] if isinstance(f, dict) and f.get("rule")]
    if not raised:
        return None
    worst = max(raised, key=lambda f: (int(f.get("severity") or 0), -raised.index(f)))
    return str(worst["rule"])


class LabelledRecorder:
    """Collects the robot's telemetry and fault labels and writes labelled signatures to `path` (bounded)."""

    def __init__(self, path: Path, *, before_s: float = 5.0, after_s: float = 1.0, history_s: float = 30.0,
                 normal_period_s: float = 30.0, max_samples: int = 2000) -> None:
        if not 0 < before_s < history_s or after_s < 0 or normal_period_s < 0 or max_samples < 1:
            raise ValueError("labelled data: need 0 < before_s < history_s, after_s >= 0, normal_period_s >= 0, "
                             "max_samples >= 1")
        self.path, self.before_s, self.after_s, self.history_s = path, before_s, after_s, history_s
        self.normal_period_s, self.max_samples = normal_period_s, max_samples
        self._events: deque[tuple[float, str, list[float]]] = deque()
        self._faults: list[tuple[float, str]] = []  # pending fault samples (event time, label)
        self._last_fault = -float("inf")
        self._last_sampled: dict[str, float] = {}  # label -> time of its last fault sample (one per episode)
        self._last_normal: float | None = None
        self._lock = threading.Lock()
        self.lines = self._count_lines()
        self.written = 0  # samples written by this process (diagnostics)

    def _count_lines(self) -> int:
        try:
            with open(self.path, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def add(self, channel: str, ts: float, payload: dict[str, Any]) -> None:
        """One uplinked event (its SI payload, as mapped for the cloud)."""
        if channel == "safety_event":
            label = fault_label(payload)
            if label is not None:
                with self._lock:
                    self._faults.append((ts, label))
                    self._last_fault = max(self._last_fault, ts)
            return
        if channel not in SIGNATURE_CHANNELS:
            return
        row = features(CHANNELS[channel], payload)
        with self._lock:
            self._events.append((ts, channel, row))
            while self._events and self._events[0][0] < ts - self.history_s - self.after_s:
                self._events.popleft()

    def due(self) -> list[Sample]:
        """Write the samples whose window has closed by the newest event's time (event time is the clock, so
        simulated and wall time behave alike); returns them."""
        with self._lock:
            events = list(self._events)
            now = events[-1][0] if events else -float("inf")
            ready = [f for f in self._faults if f[0] + self.after_s <= now]
            self._faults = [f for f in self._faults if f[0] + self.after_s > now]
            last_fault = self._last_fault
        if not events:
            return []
        samples = []
        oldest, newest = events[0][0], events[-1][0]
        for ts, label in sorted(ready):
            if ts - self._last_sampled.get(label, -float("inf")) < self.history_s:
                continue  # the same episode as the last sample of this label
            if oldest <= ts - self.before_s:  # enough history before it (not a start-up fault)
                samples.append(Sample(ts, label, self._signature(events, ts)))
                self._last_sampled[label] = ts
        if self.normal_period_s > 0:
            if self._last_normal is None:
                self._last_normal = oldest
            t = newest - self.after_s
            if t - self._last_normal >= self.normal_period_s and t - last_fault > self.history_s \
                    and t - oldest >= self.history_s - self.after_s:
                samples.append(Sample(t, NORMAL, self._signature(events, t)))
                self._last_normal = t
        if samples:
            self._write(samples)
        return samples

    def _signature(self, events: list[tuple[float, str, list[float]]], ts: float) -> list[float]:
        """The window [ts - before_s, ts + after_s] scored against the statistics of the history before it."""
        start, end = ts - self.before_s, ts + self.after_s
        scorer = AnomalyScorer()
        order = [*KINEMATIC_FIRST, *(c for c in SIGNATURE_CHANNELS if c not in KINEMATIC_FIRST)]
        scored: list[tuple[float, str, float]] = []
        for part in ("warm", "window"):
            for channel in order:
                rows = [(t, r) for t, c, r in events if c == channel
                        and ((t < start) if part == "warm" else (start <= t <= end))]
                widths = {len(r) for _, r in rows}
                if not rows or len(widths) != 1:
                    continue
                scores = scorer.score_batch(CHANNEL_IDS[channel], [r for _, r in rows])
                if part == "window":
                    scored += [(t, channel, s) for (t, _), s in zip(rows, scores, strict=True)]
        return signature(scored)

    def _write(self, samples: list[Sample]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = b"".join(orjson.dumps({"x": s.x, "label": s.label, "ts": round(s.ts, 3)}) + b"\n" for s in samples)
        with open(self.path, "ab") as f:
            f.write(lines)
        self.lines += len(samples)
        self.written += len(samples)
        if self.lines > 2 * self.max_samples:  # keep the newest max_samples (what the shadow check reads)
            with open(self.path, "rb") as f:
                keep = f.readlines()[-self.max_samples:]
            tmp = self.path.with_suffix(".jsonl.part")
            tmp.write_bytes(b"".join(keep))
            os.replace(tmp, self.path)
            self.lines = len(keep)
