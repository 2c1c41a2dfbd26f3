"""Joint angles are postures set by the task, not health: replay of the quiet-host run of the main command that held a
healthy robot (helper A, 1 Dec 2026 01:36 UTC, `--primary-ai`, load 3-10; test/data/demo5_*_tote.jsonl.gz, the
first 100/110 s of r1/r2, exported from the cloud's telemetry table, times from the robot's first event).

r2 stood for 70 s with its arms down, carried totes, then stood still again (88-108 s) holding the hand-over tote
with its elbows bent 1.23 rad. Its rest statistics had learned the elbows at 0 rad (sd 0.001, floor 0.1 rad), so the
carrying posture scored |z| 12 on joint_states, and the robust EWMA (an anomaly is learned at 2 % weight) kept it
above 6 for more than a minute: the worker held r2 for 17 s and handed its task away. r1 put its tote down and walked
on with straight elbows while its moving statistics had learned them bent (|z| 8-9): held twice in the replay.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from sigma_cloud.cognition import replay, rules
from sigma_protocol import anomaly_config

DATA = Path(__file__).parent / "data"
PARAMS = rules.CognitionParams()


def without_posture() -> anomaly_config.ScoringConfig:
    """The packaged scoring with joint angles scored as before: against every mode's statistics, never re-taken."""
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["channels"]["joint_states"]["position"]["posture"] = False
    return anomaly_config.parse(doc)


@pytest.fixture(scope="module")
def tote() -> dict[str, list[replay.Recorded]]:
    return {name: replay.load_jsonl(DATA / f"demo5_{name}_tote.jsonl.gz") for name in ("r1", "r2")}


def test_before_the_fix_a_robot_standing_with_its_tote_read_as_a_persistent_joint_anomaly(tote) -> None:
    """The reproduction: both healthy robots are held on joint_states when angles are scored as health."""
    config = without_posture()
    held = [h for h in replay.holds(replay.replay(tote["r2"], config=config)) if not h.renewal]
    assert len(held) == 1 and held[0].evidence["channels"] == ["joint_states"]
    assert 88.0 <= held[0].evidence["anomaly_since"] <= 90.0  # r2 has just stopped, the tote in its arms
    assert held[0].evidence["peak_score"] > 10
    assert [h for h in replay.holds(replay.replay(tote["r1"], config=config)) if not h.renewal]


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_a_healthy_robot_carrying_or_putting_down_a_tote_is_not_held(tote, name: str) -> None:
    results = replay.replay(tote[name])
    assert replay.holds(results) == [] and replay.acts(results, rules.MAINTENANCE) == []
    standing = [r for r in results if 89.0 <= r.window.t_start <= 108.0]  # r2 still with the tote
    if name == "r2":
        assert standing and max(r.window.peak.get("joint_states", 0.0) for r in standing) < PARAMS.anomaly_threshold


def biased(events: list[replay.Recorded], start: float, bias: float, joint: str) -> list[replay.Recorded]:
    """The recording with the simulator's `encoder_bias` fault from `start` on: the joint's reading shifted by `bias`
    rad, its reported velocity unchanged (sigma_sim.simulation)."""
    out = []
    for e in events:
        if e.channel == "joint_states" and e.ts >= start:
            payload = copy.deepcopy(e.payload)
            payload["position"][payload["name"].index(joint)] += bias
            e = replay.Recorded(e.ts, e.channel, payload)
        out.append(e)
    return out


@pytest.mark.parametrize("joint", ["left_knee", "right_elbow"])
def test_a_reading_that_jumps_while_the_robot_stands_is_still_held(tote, joint: str) -> None:
    """A posture change without joint motion is not one the robot made: an encoder bias of 0.8 rad injected while r2
    stands holding its tote is held on joint_states within persist_s and a pass or two, deterministically."""
    events = biased(tote["r2"], 96.0, 0.8, joint)
    results = replay.replay(events)
    held = [h for h in replay.holds(results) if not h.renewal]
    assert len(held) == 1 and held[0].evidence["channels"] == ["joint_states"]
    assert 96.0 <= held[0].evidence["anomaly_since"] <= 96.5
    sent_at = next(r.window.t_end for r in results if held[0] in r.proposals)
    assert sent_at - 96.0 <= PARAMS.persist_s + 1.0
    again = replay.replay(events)
    assert [dataclasses.astuple(p) for r in again for p in r.proposals] == \
        [dataclasses.astuple(p) for r in results for p in r.proposals]


def test_posture_is_only_for_scored_fields() -> None:
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["channels"]["odom"]["position"]["posture"] = True  # floor null: not scored at all
    with pytest.raises(anomaly_config.ScoringConfigError, match=r"channels.odom.position.posture"):
        anomaly_config.parse(doc)
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["channels"]["joint_states"]["position"]["posture"] = "yes"
    with pytest.raises(anomaly_config.ScoringConfigError, match=r"channels.joint_states.position.posture"):
        anomaly_config.parse(doc)
