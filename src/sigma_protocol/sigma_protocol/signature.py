"""Incident signatures: the telemetry around an incident as a fixed-length numeric vector (pure; numpy only).
Shared by the cloud (incident memory) and the robot's bridge (the labelled samples of its local learner).

No language model: per channel (in a fixed order) the events' anomaly scores — which are already each field
normalised against the robot's own running mean and deviation (sigma_protocol.anomaly) — squashed with
tanh(score / 10), then 8 numbers: mean, max, standard deviation, share of events at/above 6, least-squares slope over
the window, and the energy of the detrended score series in three frequency bands (FFT: low, mid, high thirds).
8 channels x 8 = 64 values, scaled to unit length (cosine distance in pgvector). A channel with no events is zeros.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SIGNATURE_CHANNELS = ("joint_states", "actuator_health", "battery", "imu", "odom", "safety_status", "safety_event",
                      "task_status")
PER_CHANNEL = 8
DIMENSIONS = len(SIGNATURE_CHANNELS) * PER_CHANNEL  # 64, the vector(64) of migration 0040


def _channel_features(ts: np.ndarray, scores: np.ndarray) -> np.ndarray:
    squashed = np.tanh(np.clip(scores, 0.0, 1e6) / 10.0)
    out = np.zeros(PER_CHANNEL)
    out[0] = squashed.mean()
    out[1] = squashed.max()
    out[2] = squashed.std()
    out[3] = float(np.mean(scores >= 6.0))
    if len(ts) >= 2 and np.ptp(ts) > 0:
        out[4] = np.tanh(np.polyfit(ts - ts[0], squashed, 1)[0])
    if len(squashed) >= 4:
        spectrum = np.abs(np.fft.rfft(squashed - squashed.mean()))[1:] ** 2
        if spectrum.sum() > 0:
            bands = np.array_split(spectrum, 3)
            out[5:8] = [b.sum() for b in bands]
            out[5:8] /= spectrum.sum()
    return out


def signature(events: Iterable[tuple[float, str, float]]) -> list[float]:
    """The 64-value unit-length signature of (ts, channel, score) events; channels outside SIGNATURE_CHANNELS and
    non-finite scores are ignored. An empty window gives the first basis vector (still a valid cosine operand)."""
    per: dict[str, list[tuple[float, float]]] = {name: [] for name in SIGNATURE_CHANNELS}
    for ts, channel, score in events:
        if channel in per and np.isfinite(ts) and np.isfinite(score):
            per[channel].append((float(ts), float(score)))
    vector = np.zeros(DIMENSIONS)
    for i, name in enumerate(SIGNATURE_CHANNELS):
        rows = sorted(per[name])
        if rows:
            arr = np.asarray(rows)
            vector[i * PER_CHANNEL:(i + 1) * PER_CHANNEL] = _channel_features(arr[:, 0], arr[:, 1])
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        vector[0] = 1.0
        norm = 1.0
    return [float(v) for v in vector / norm]


def to_pgvector(values: list[float]) -> str:
    """The text form pgvector reads ('[v1,v2,...]')."""
    if len(values) != DIMENSIONS or not all(np.isfinite(values)):
        raise ValueError(f"a signature has {DIMENSIONS} finite values, got {len(values)}")
    return "[" + ",".join(f"{v:.6g}" for v in values) + "]"
