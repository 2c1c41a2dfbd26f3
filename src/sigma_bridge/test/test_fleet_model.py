"""The adopted fleet model scores the robot's own telemetry (sigma_bridge/fleet_model.py, docs/cognition.md).

A federated round in miniature, every step with the project's own code: three robots whose motors overheated wrote
labelled data with the bridge's LabelledRecorder (their safety supervisors raised `motor_temperature`); r1 only ever
saw normal operation. Each robot's local model is fitted on its own samples (`federated.fit`), the cloud aggregates
them (`federated.aggregate`), r1's bridge shadow-checks the fleet model on r1's labelled data and adopts it
(`model_adoption.evaluate` / `write_current`). Then r1's winding overheats — a class r1 never saw: with its own model
r1's live classifier calls it normal; with the adopted fleet model it flags `motor_temperature`, and only while the
fault lasts. The telemetry is a synthetic walking robot (seeded noise, SI units), not a recording.

And r1 acts on it: each verdict goes, as the bridge publishes it on ``fleet_model/verdict``, into r1's own core
(sigma_core perception -> reasoning -> self-evaluation, the functional core core_node runs): after adoption the
overheat derates r1's plan speed and caps its Edge AI's confidence; the same robot without the fault, and r1 before
adoption (its own model), do not act.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from sigma_bridge.fleet_model import LiveClassifier, verdict_values
from sigma_bridge.labelled_data import LabelledRecorder
from sigma_bridge.model_adoption import evaluate, read_recent, write_current
from sigma_core.core.perception import Perception, SafetyView
from sigma_core.core.reasoning import ReasoningParams, constrain
from sigma_core.core.selfeval import SelfEvalParams, SelfEvaluation
from sigma_protocol import federated

JOINTS = ["left_hip_pitch", "left_knee", "right_hip_pitch", "right_knee"]
FAULT = "motor_temperature"


def telemetry(rng: random.Random, seconds: float, *, hot_from: float | None = None, hot_for: float = 8.0,
              t0: float = 1000.0) -> list[tuple[str, float, dict]]:
    """A walking robot: joint states, imu, odom at 10 Hz, actuator health at 2 Hz, battery at 1 Hz. With `hot_from`,
    the left knee's winding jumps 30 degC above normal for `hot_for` s (a cooling fault / blocked fan)."""
    out: list[tuple[str, float, dict]] = []
    for k in range(int(seconds * 10)):
        t = t0 + k * 0.1
        phase = math.sin(2 * math.pi * 0.8 * (t - t0))
        out.append(("joint_states", t, {
            "name": JOINTS, "position": [0.3 * phase + rng.gauss(0, 0.01) for _ in JOINTS],
            "velocity": [1.5 * phase + rng.gauss(0, 0.05) for _ in JOINTS],
            "effort": [10.0 * phase + rng.gauss(0, 1.0) for _ in JOINTS]}))
        out.append(("imu", t, {"orientation": [0.0, 0.0, 0.0, 1.0],
                               "angular_velocity": [rng.gauss(0, 0.02) for _ in range(3)],
                               "linear_acceleration": [rng.gauss(0, 0.2), rng.gauss(0, 0.2), 9.81]}))
        out.append(("odom", t, {"position": [0.5 * (t - t0), 0.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0],
                                "linear": [0.5 + rng.gauss(0, 0.01), 0.0, 0.0], "angular": [0.0, 0.0, 0.0]}))
        if k % 5 == 0:
            hot = hot_from is not None and hot_from <= t - t0 < hot_from + hot_for
            out.append(("actuator_health", t, {
                "name": JOINTS, "temperature": [35.0 + rng.gauss(0, 0.2) + (30.0 if hot and j == 1 else 0.0)
                                                for j in range(len(JOINTS))],
                "current": [4.0 + rng.gauss(0, 0.2) for _ in JOINTS], "voltage": [48.0] * len(JOINTS)}))
        if k % 10 == 0:
            out.append(("battery", t, {"voltage": 48.0 - 0.001 * (t - t0), "current": -5.0 + rng.gauss(0, 0.2),
                                       "charge": 10.0, "capacity": 15.0, "percentage": 0.66, "temperature": 30.0}))
    return out


def labelled(tmp: Path, rng: random.Random, name: str, faults: int) -> list[tuple[list[float], str]]:
    """A robot's labelled data written by the bridge's recorder: normal samples, plus `faults` overheating episodes
    each labelled by its safety event."""
    recorder = LabelledRecorder(tmp / name / "recent.jsonl", normal_period_s=6.0, history_s=20.0)
    t0 = 1000.0
    for episode in range(max(faults, 1)):
        start = t0 + episode * 60.0
        for channel, t, payload in telemetry(rng, 60.0, hot_from=30.0 if faults else None, t0=start):
            recorder.add(channel, t, payload)
            if faults and abs(t - (start + 31.0)) < 1e-6:  # the supervisor raises its fault a second in
                recorder.add("safety_event", t, {"raised": [{"rule": FAULT, "severity": 2}]})
            if channel == "odom" and round((t - t0) * 10) % 10 == 0:
                recorder.due()
    return read_recent(recorder.path, 2000)


def classes_over_time(classifier: LiveClassifier, events: list[tuple[str, float, dict]]) -> list[tuple[float, str]]:
    """Feed the events as the bridge does and tick once a second of event time."""
    out = []
    next_tick = events[0][1] + 1.0
    for channel, t, payload in events:
        classifier.add(channel, t, payload)
        if t >= next_tick:
            verdict = classifier.tick()
            if verdict is not None:
                out.append((verdict.ts, verdict.label))
            next_tick += 1.0
    return out


def fit(samples: list[tuple[list[float], str]]) -> federated.Model:
    by: dict[str, list[list[float]]] = {}
    for x, label in samples:
        by.setdefault(label, []).append(x)
    return federated.fit(by, federated.FLEET_DIM)


def federated_round(tmp_path: Path) -> tuple[dict, federated.Model, federated.Model, Path]:
    """Three robots that overheated and r1 that never did: their labelled data, r1's own model, the fleet model
    aggregated from all four, and r1's model directory (its own model in use)."""
    rng = random.Random(15)
    data = {name: labelled(tmp_path, rng, name, faults) for name, faults in
            (("f1", 2), ("f2", 2), ("f3", 2), ("r1", 0))}
    assert {label for _, label in data["r1"]} == {federated.NORMAL}  # r1 never saw the fault
    assert all(FAULT in {label for _, label in data[n]} for n in ("f1", "f2", "f3"))
    own = fit(data["r1"])
    fleet = federated.aggregate([fit(data[n]) for n in ("f1", "f2", "f3", "r1")], version=1)
    model_dir = tmp_path / "r1"
    write_current(model_dir / "current.json", 0, federated.to_json(own))
    return data, own, fleet, model_dir


def test_a_robot_flags_a_fault_class_it_never_saw_after_adopting_the_fleet_model(tmp_path: Path) -> None:
    data, own, fleet, model_dir = federated_round(tmp_path)

    def live_classes(seed: int) -> list[tuple[float, str]]:
        classifier = LiveClassifier(model_dir / "current.json")
        events = telemetry(random.Random(seed), 70.0, hot_from=40.0, t0=5000.0)
        return classes_over_time(classifier, events)

    before = live_classes(7)
    assert before and {label for _, label in before} == {federated.NORMAL}  # its own model cannot name the fault

    verdict = evaluate(own, 0, fleet, 1, data["r1"])
    assert verdict.adopted and verdict.samples == len(data["r1"])
    write_current(model_dir / "current.json", 1, federated.to_json(fleet))

    after = live_classes(7)
    onset, end = 5000.0 + 40.0, 5000.0 + 48.0
    flagged = [t for t, label in after if label == FAULT]
    assert flagged and onset <= min(flagged) <= onset + 2.0  # flagged within two ticks of the onset
    quiet = [label for t, label in after if t < onset or t > end + 6.0]  # before it / once the window has passed
    assert quiet and set(quiet) == {federated.NORMAL}
    # the fleet's fault samples are incident windows (5 s before to 1 s after the fault was raised), so what the
    # model recognises is the fault's onset (and the equally abrupt return); a window wholly inside a lasting fault
    # is a different picture
    assert sum(1 for t, label in after if onset <= t <= onset + 5.0 and label == FAULT) >= 2


def test_without_a_model_or_enough_telemetry_the_classifier_says_nothing(tmp_path: Path) -> None:
    classifier = LiveClassifier(tmp_path / "current.json", min_events=20)
    for channel, t, payload in telemetry(random.Random(1), 5.0):
        classifier.add(channel, t, payload)
    assert classifier.tick() is None  # no current.json
    (tmp_path / "current.json").write_text("{not json")
    assert classifier.tick() is None  # unreadable: treated as no model, never an exception


def core_reaction(classifier: LiveClassifier, events: list[tuple[str, float, dict]]) -> list[tuple[float, float, str]]:
    """Feed the events as the bridge does, tick once a second of event time, and hand each verdict to the robot's
    core as core_node does (fleet_model/verdict: the class in `message`, WARN = fault); returns (time, plan speed
    limit, the Edge AI's confidence reasons) after each verdict."""
    core = Perception()
    reasoning, selfeval = ReasoningParams(), SelfEvaluation(SelfEvalParams())
    out = []
    next_tick = events[0][1] + 1.0
    for channel, t, payload in events:
        classifier.add(channel, t, payload)
        if t < next_tick:
            continue
        next_tick += 1.0
        verdict = classifier.tick()
        if verdict is None:
            continue
        values = verdict_values(verdict)
        assert values["class"] == verdict.label and values["fault"] == str(verdict.fault).lower()
        core.update_fleet_verdict(verdict.label, verdict.fault, t)
        core.update_odom(0.5 * t, 0.0, 0.0, 0.5, 0.0, t)
        core.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), t)
        core.update_humans([], t)
        world = core.snapshot(t)
        c = constrain(reasoning, world, 0.6)
        health = selfeval.assess(world, cross_track=0.0, remaining=float("nan"), moving_expected=False,
                                 needs_joints=False, last_rejected_at=None, fleet_fault=c.fleet_fault)
        out.append((t, c.speed_limit, "; ".join(health.reasons)))
    return out


def test_after_adopting_the_fleet_model_the_robot_derates_on_a_fault_it_never_saw(tmp_path: Path) -> None:
    data, own, fleet, model_dir = federated_round(tmp_path)
    hold, slow = ReasoningParams().fleet_fault_hold, ReasoningParams().fleet_fault_speed
    onset = 5000.0 + 40.0

    def run(seed: int, hot: bool) -> list[tuple[float, float, str]]:
        events = telemetry(random.Random(seed), 70.0, hot_from=40.0 if hot else None, t0=5000.0)
        return core_reaction(LiveClassifier(model_dir / "current.json"), events)

    before = run(7, hot=True)  # its own model: the overheat is "normal" to it, nothing happens
    assert before and all(limit == 0.6 and "fleet model" not in why for _, limit, why in before)

    assert evaluate(own, 0, fleet, 1, data["r1"]).adopted
    write_current(model_dir / "current.json", 1, federated.to_json(fleet))

    flagged = run(7, hot=True)
    acting = [t for t, limit, why in flagged if limit == slow and f"fleet model flags {FAULT}" in why]
    assert acting and onset <= min(acting) <= onset + 2.0       # derated within two verdicts of the onset
    assert all(limit == 0.6 for t, limit, _ in flagged if t < onset)
    assert all(limit == slow for t, limit, _ in flagged if min(acting) <= t <= min(acting) + hold - 1.0)
    healthy = run(8, hot=False)  # the same robot, the adopted model, no fault: it does not act
    assert healthy and all(limit == 0.6 and "fleet model" not in why for _, limit, why in healthy)

