"""Replay of recorded telemetry through the ingest's anomaly scorer and the Primary AI's robot rules (pure,
deterministic: no database, no clock; `now` is the event time of each pass).

The worker's own path (signed ingest -> telemetry scores -> per-pass channel summary -> rules) is replayed here in
memory: events are scored batch by batch exactly as `IngestService.score` does (one scorer per robot, one
`score_batch` per channel of a batch, in the batch's channel order), each batch is one worker pass whose window is
summarised per channel as `repositories.cognition.WINDOW_SQL` does, and `rules.decide` runs on it with the session
memory. Used to reproduce the false holds on a healthy robot from a recorded demo run and to test the fix
(docs/cognition.md "Anomaly score").
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sigma_protocol as protocol
from sigma_cloud.cognition import rules
from sigma_cloud.cognition.memory import SessionMemory, Window
from sigma_cloud.core.analytics import AnomalyScorer, features, normalize_payload
from sigma_protocol.anomaly_config import ScoringConfig


@dataclass(frozen=True)
class Recorded:
    """One recorded telemetry event: event time [s], channel name, payload (as the robot sent it)."""

    ts: float
    channel: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class PassResult:
    """One replayed worker pass: its window and what the rules did."""

    window: Window
    proposals: tuple[rules.Proposal, ...]


def load_jsonl(path: str | Path) -> list[Recorded]:
    """Events from a JSON-lines file (gzip when the name ends in .gz): {"ts", "channel", "payload"} per line."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        return [Recorded(float(d["ts"]), str(d["channel"]), d["payload"]) for d in map(json.loads, f) if d]


def batches(events: Iterable[Recorded], period_s: float) -> list[list[Recorded]]:
    """Consecutive events grouped into uplink batches of `period_s` event time (the bridge sends what arrived)."""
    out: list[list[Recorded]] = []
    start = None
    for event in sorted(events, key=lambda e: e.ts):
        if start is None or event.ts - start >= period_s:
            out.append([])
            start = event.ts
        out[-1].append(event)
    return out


def score(batch: list[Recorded], scorer: AnomalyScorer) -> list[float]:
    """The ingest's scores of one batch (per channel, vectorized, in first-appearance order of the channels)."""
    groups: dict[str, tuple[list[int], list[list[float]]]] = {}
    for index, event in enumerate(batch):
        fields = protocol.CHANNELS[event.channel]
        where, rows = groups.setdefault(event.channel, ([], []))
        where.append(index)
        rows.append(features(fields, normalize_payload(fields, event.payload)))
    scores = [0.0] * len(batch)
    for channel, (where, rows) in groups.items():
        for index, value in zip(where, scorer.score_batch(protocol.CHANNEL_IDS[channel], rows), strict=True):
            scores[index] = value
    return scores


def window(batch: list[Recorded], scores: list[float], threshold: float) -> Window:
    """The worker's per-pass summary (repositories.cognition.WINDOW_SQL): per channel peak and share >= threshold."""
    per: dict[str, list[float]] = {}
    high: dict[str, list[float]] = {}
    for event, value in zip(batch, scores, strict=True):
        per.setdefault(event.channel, []).append(value)
        if value >= threshold:
            high.setdefault(event.channel, []).append(event.ts)
    return Window(t_start=min(e.ts for e in batch), t_end=max(e.ts for e in batch), events=len(batch),
                  peak={c: max(v) for c, v in per.items()},
                  high_share={c: sum(1 for s in v if s >= threshold) / len(v) for c, v in per.items()},
                  high_span={c: (min(t), max(t)) for c, t in high.items()})


def replay(events: Iterable[Recorded], *, robot_id: str = "r", params: rules.CognitionParams | None = None,
           config: ScoringConfig | None = None, period_s: float = 0.25) -> list[PassResult]:
    """Every worker pass over the recording, in order (one per uplink batch of `period_s`)."""
    params = params or rules.CognitionParams()
    scorer = AnomalyScorer(config=config)
    memory = SessionMemory()
    out: list[PassResult] = []
    temperatures: dict[str, float] = {}
    temperatures_ts = None
    for batch in batches(events, period_s):
        win = window(batch, score(batch, scorer), params.anomaly_threshold)
        for event in batch:  # the latest actuator temperatures, as robot_latest gives them to the worker
            names, values = event.payload.get("name"), event.payload.get("temperature")
            if event.channel == "actuator_health" and isinstance(names, list) and isinstance(values, list) \
                    and len(names) == len(values):
                temperatures, temperatures_ts = dict(zip(names, values, strict=True)), event.ts
        snapshot = rules.Snapshot(robot_id=robot_id, site_id="replay", now=win.t_end, window=win,
                                  last_event_ts=win.t_end, temperatures=temperatures,
                                  temperatures_ts=temperatures_ts)
        proposals, memory = rules.decide(snapshot, memory, params)
        out.append(PassResult(win, tuple(proposals)))
    return out


def acts(results: list[PassResult], rule: str) -> list[rules.Proposal]:
    """The proposals of one rule in a replay (first sends and renewals)."""
    return [p for r in results for p in r.proposals if p.rule == rule]


def holds(results: list[PassResult]) -> list[rules.Proposal]:
    """The persistent-anomaly holds (first sends and renewals) of a replay."""
    return acts(results, rules.HOLD)
