"""The robot's labelled data (sigma_bridge/labelled_data.py): fault and normal samples from its own telemetry, the
same signatures the cloud computes, a bounded file that the shadow check reads back."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from sigma_bridge.labelled_data import LabelledRecorder, fault_label
from sigma_bridge.model_adoption import read_recent
from sigma_protocol.federated import FLEET_DIM, NORMAL

JOINTS = ["left_knee", "right_knee"]


def feed(rec: LabelledRecorder, t0: float, t1: float, rng: random.Random, *, hot_after: float | None = None) -> None:
    """10 Hz joint_states and 2 Hz actuator_health of a standing robot; the left knee heats up after `hot_after`."""
    t = t0
    while t < t1:
        rec.add("joint_states", t, {"name": JOINTS, "position": [0.1, 0.1], "velocity": [0.0, 0.0],
                                    "effort": [2.0 + rng.gauss(0, 0.2), 2.0 + rng.gauss(0, 0.2)]})
        if round(t * 10) % 5 == 0:
            hot = 30.0 if hot_after is not None and t >= hot_after else 0.0
            rec.add("actuator_health", t, {"name": JOINTS, "temperature": [30.0 + hot, 30.0],
                                           "current": [0.5, 0.5], "voltage": [48.0, 48.0]})
        t = round(t + 0.1, 6)


def test_fault_label_is_the_most_severe_raised_rule() -> None:
    assert fault_label({"raised": [{"rule": "watchdog", "severity": 0}, {"rule": "motor_temperature",
                                                                         "severity": 2}]}) == "motor_temperature"
    assert fault_label({"raised": [], "cleared": [{"rule": "watchdog"}]}) is None
    assert fault_label({"raised": "garbage"}) is None


def test_normal_and_fault_samples_are_written_and_read_back_by_the_shadow_check(tmp_path: Path) -> None:
    rng = random.Random(3)
    path = tmp_path / "model" / "recent.jsonl"
    rec = LabelledRecorder(path, normal_period_s=10.0)
    rec.add("safety_event", 0.5, {"raised": [{"rule": "watchdog", "severity": 0}]})  # start-up: no history yet
    feed(rec, 0.0, 45.0, rng)
    normals = rec.due()
    assert [s.label for s in normals] == [NORMAL]  # 30 s of history, then one per 10 s
    feed(rec, 45.0, 60.0, rng, hot_after=50.0)
    rec.add("safety_event", 50.5, {"raised": [{"rule": "motor_temperature", "severity": 2}]})
    feed(rec, 60.0, 61.0, rng, hot_after=50.0)
    samples = rec.due()
    assert [s.label for s in samples] == ["motor_temperature"]  # no normal sample within 30 s of a fault
    fault, normal = samples[0].x, normals[0].x
    assert len(fault) == FLEET_DIM and abs(sum(v * v for v in fault) - 1.0) < 1e-9
    actuator_share = 8 * 1 + 3  # signature slot: actuator_health's share of events scoring >= 6
    assert fault[actuator_share] > 0.0 and normal[actuator_share] == 0.0
    assert [label for _, label in read_recent(path, 2000)] == [NORMAL, "motor_temperature"]
    assert [orjson.loads(line)["label"] for line in path.read_bytes().splitlines()] == [NORMAL, "motor_temperature"]


def test_the_file_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "recent.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"x": [0.0] * FLEET_DIM, "label": NORMAL, "ts": i}) + b"\n"
                              for i in range(8)))
    rec = LabelledRecorder(path, history_s=6.0, before_s=2.0, normal_period_s=1.0, max_samples=4)
    assert rec.lines == 8
    feed(rec, 0.0, 8.0, random.Random(1))
    assert rec.due() and rec.lines <= 4  # 9 lines > 2 x 4: rewritten with the newest 4
    lines = path.read_bytes().splitlines()
    assert len(lines) == rec.lines and orjson.loads(lines[-1])["ts"] > 6


def test_a_flapping_fault_is_one_episode_one_sample(tmp_path: Path) -> None:
    """A watchdog raised 5 times a second for 20 s (a starved sensor) gives one sample, not 100 signatures; the same
    label again after history_s is a new episode; another label in between is its own."""
    rng = random.Random(5)
    rec = LabelledRecorder(tmp_path / "recent.jsonl", normal_period_s=0.0)
    feed(rec, 0.0, 10.0, rng)
    for i in range(100):
        rec.add("safety_event", 10.0 + 0.2 * i, {"raised": [{"rule": "watchdog", "severity": 2}]})
    rec.add("safety_event", 15.0, {"raised": [{"rule": "motor_temperature", "severity": 2}]})
    feed(rec, 10.0, 32.0, rng)
    assert [(s.label, s.ts) for s in rec.due()] == [("watchdog", 10.0), ("motor_temperature", 15.0)]
    rec.add("safety_event", 41.0, {"raised": [{"rule": "watchdog", "severity": 2}]})  # 31 s later: a new episode
    feed(rec, 32.0, 43.0, rng)
    assert [(s.label, s.ts) for s in rec.due()] == [("watchdog", 41.0)]
    assert rec.lines == 3
