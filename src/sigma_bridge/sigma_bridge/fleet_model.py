"""The robot classifies its own telemetry with the fleet model it adopted (federated learning, docs/cognition.md).

``model_adoption.py`` fetches a fleet model, shadow-checks it on the robot's labelled data and, if it is not worse,
writes it to ``model_dir/current.json``. :class:`LiveClassifier` is what uses it: every uplinked event is scored as
it comes by the shared streaming scorer (``sigma_protocol.anomaly``, the cloud's ingest scorer), the last
``window_s`` of scores is summarised as the incident signature (``sigma_protocol.signature``, the features the fleet
model was trained on) and classified (``sigma_protocol.federated.classify``) with the model in use, re-read when
the file changes. A fault class the robot never saw itself (it is in the fleet model because other robots reported
it) is then flagged on this robot: the bridge puts the verdict in its diagnostics (level WARN, ``fleet_model_class``),
logs each change of class and publishes each verdict on ``fleet_model/verdict`` (diagnostic_msgs/DiagnosticStatus:
the class in ``message``, WARN for a fault class, :func:`verdict_values` as values) for the robot's core: its
reasoning derates the planning speed and its self-evaluation caps the Edge AI's confidence while a fault verdict is
fresh (sigma_core reasoning/selfeval; the safety supervisor stays the last word).

Pure apart from reading ``current.json`` (no rclpy, no clock: event time is the clock). The bridge feeds
:meth:`LiveClassifier.add` from its callbacks and calls :meth:`LiveClassifier.tick` once a period off the executor
thread.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma_bridge.model_adoption import read_current
from sigma_protocol import federated
from sigma_protocol.anomaly import AnomalyScorer, features
from sigma_protocol.channels import CHANNEL_IDS, CHANNELS
from sigma_protocol.signature import SIGNATURE_CHANNELS, signature

KINEMATIC_FIRST = ("joint_states", "odom")  # scored first in a batch: they set the robot's operating mode
ORDER = (*KINEMATIC_FIRST, *(c for c in SIGNATURE_CHANNELS if c not in KINEMATIC_FIRST))


@dataclass(frozen=True)
class Classification:
    """One verdict: the class of the window ending at `ts` under fleet model `version`, over `events` events."""

    ts: float
    version: int
    label: str
    events: int

    @property
    def fault(self) -> bool:
        return self.label != federated.NORMAL


class LiveClassifier:
    """Streaming scores of the robot's telemetry and the adopted fleet model's class of the recent window."""

    def __init__(self, current_path: Path, *, window_s: float = 6.0, min_events: int = 20,
                 max_pending: int = 20_000) -> None:
        if not window_s > 0 or min_events < 1 or max_pending < 1:
            raise ValueError("fleet model classifier: need window_s > 0, min_events >= 1, max_pending >= 1")
        self.current_path, self.window_s, self.min_events = current_path, window_s, min_events
        self._pending: deque[tuple[float, str, list[float]]] = deque(maxlen=max_pending)
        self._lock = threading.Lock()
        self._scorer = AnomalyScorer()
        self._window: deque[tuple[float, str, float]] = deque()
        self._model: federated.Model | None = None
        self._version = 0
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of current.json when it was read
        self.last: Classification | None = None

    def add(self, channel: str, ts: float, payload: dict[str, Any]) -> None:
        """One uplinked event (its SI payload, as mapped for the cloud); channels outside the signature are
        ignored."""
        if channel in SIGNATURE_CHANNELS and channel in CHANNEL_IDS:
            row = features(CHANNELS[channel], payload)
            with self._lock:
                self._pending.append((ts, channel, row))

    def model(self) -> tuple[federated.Model | None, int]:
        """The fleet model in use (re-read when current.json changed) and its version; (None, 0) without one."""
        try:
            st = self.current_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._model, self._version = read_current(self.current_path) if stamp is not None else (None, 0)
            self._stamp = stamp
        return self._model, self._version

    def _score_pending(self) -> None:
        with self._lock:
            rows = list(self._pending)
            self._pending.clear()
        if not rows:
            return
        for channel in ORDER:
            mine = [(t, r) for t, c, r in rows if c == channel]
            if not mine:
                continue
            width = Counter(len(r) for _, r in mine).most_common(1)[0][0]  # a malformed row does not stop a batch
            mine = [(t, r) for t, r in mine if len(r) == width]
            scores = self._scorer.score_batch(CHANNEL_IDS[channel], [r for _, r in mine])
            self._window.extend((t, channel, s) for (t, _), s in zip(mine, scores, strict=True))
        newest = max(t for t, _, _ in self._window)
        self._window = deque(sorted(e for e in self._window if e[0] > newest - self.window_s))

    def tick(self) -> Classification | None:
        """Score what arrived since the last tick and classify the recent window with the model in use; None without
        a model or with too few events in the window."""
        self._score_pending()
        model, version = self.model()
        if model is None or model.dim != federated.FLEET_DIM or len(self._window) < self.min_events:
            return None
        label = federated.classify(model, signature(self._window))
        self.last = Classification(self._window[-1][0], version, label, len(self._window))
        return self.last


def verdict_values(c: Classification) -> dict[str, str]:
    """The verdict's values as published on ``fleet_model/verdict`` (DiagnosticStatus key/values)."""
    return {"class": c.label, "fault": str(c.fault).lower(), "model_version": str(c.version), "events": str(c.events),
            "window_end": f"{c.ts:.3f}"}
