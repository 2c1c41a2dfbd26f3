"""Pure core: normalization, streaming anomaly scores, and the fast decoder's agreement with the reference."""

from __future__ import annotations

import math
import random

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import sigma_protocol as protocol
from sigma_cloud.core import fastpath
from sigma_cloud.core.analytics import AnomalyScorer, ChannelStats, NormalizationError, normalize_payload
from sigma_cloud.core.retention import downsample
from sigma_protocol import anomaly_config

NOW = 1_800_000_000.0


def test_normalize_units() -> None:
    fields = protocol.CHANNELS["actuator_health"]
    out = normalize_payload(fields, {"name": ["a"], "temperature": [300.15], "current": [1500.0],
                                     "units": {"temperature": "K", "current": "mA"}})
    assert out == {"name": ["a"], "temperature": [pytest.approx(27.0)], "current": [1.5]}
    joints = normalize_payload(protocol.CHANNELS["joint_states"], {"name": ["k"], "position": [90.0],
                                                                   "units": {"position": "deg"}})
    assert joints["position"] == [pytest.approx(math.pi / 2)]
    plain = {"voltage": 48.0}
    assert normalize_payload(protocol.CHANNELS["battery"], plain) is plain
    with pytest.raises(NormalizationError, match="cannot convert 'mA' to 'V'"):
        normalize_payload(protocol.CHANNELS["battery"], {"voltage": 1.0, "units": {"voltage": "mA"}})


def test_scorer_flags_outliers_after_warmup() -> None:
    rng = random.Random(4)
    scorer = AnomalyScorer(warmup=20)
    assert scorer.score_batch(2, [[48.0 + rng.gauss(0, 0.1)] for _ in range(10)]) == [0.0] * 10
    normal = scorer.score_batch(2, [[48.0 + rng.gauss(0, 0.1)] for _ in range(40)])
    assert max(normal[20:]) < 5.0
    assert scorer.score_batch(2, [[60.0]])[0] > 50.0
    # Batch-wise updates equal one-at-a-time updates (closed-form EWMA).
    a, b = AnomalyScorer(), AnomalyScorer()
    rows = [[rng.random(), rng.random()] for _ in range(30)]
    a.score_batch(0, rows)
    for row in rows:
        b.score_batch(0, [row])
    assert a.stats[0].mean == pytest.approx(b.stats[0].mean) and a.stats[0].var == pytest.approx(b.stats[0].var)


def test_downsample_buckets() -> None:
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = [{"ts": t0 + dt.timedelta(seconds=s), "seq": s + 1, "channel": 2, "score": float(s), "payload": {"v": s}}
            for s in range(25)]
    points = downsample(rows, 10.0)
    assert [(p["count"], p["seq"], p["score"], p["payload"]) for p in points] == [
        (10, 10, 9.0, {"v": 9}), (10, 20, 19.0, {"v": 19}), (5, 25, 24.0, {"v": 24})]


numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.integers(-10**6, 10**6),
                    st.booleans(), st.text(max_size=3), st.none())
payloads = st.dictionaries(st.sampled_from(["name", "position", "velocity", "voltage", "level", "units", "extra"]),
                           st.one_of(numbers, st.lists(numbers, max_size=3)), max_size=4)
events = st.fixed_dictionaries({"seq": st.integers(-1, 6), "ts": st.floats(NOW - 10, NOW + 10),
                                "channel": st.sampled_from([*protocol.CHANNELS, "warp"]), "payload": payloads})


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=5))
def test_fast_decoder_never_accepts_what_the_reference_rejects(batch: list[dict]) -> None:
    body = orjson.dumps({"robot_id": "r1", "events": batch})
    fast = fastpath.decode(body, "r1", NOW, 86400, 100, 300)
    if fast is None:
        return
    accepted, errors = protocol.validate_batch(orjson.loads(body), "r1", NOW, 86400, 100, 300)
    assert errors == []
    assert fast.seqs == [e["seq"] for e in accepted]
    assert [orjson.loads(t) for t in fast.payload_texts] == [e["payload"] for e in accepted]


def joint_rows(n: int, velocity: float, effort: float, joints: int = 3) -> list[list[float]]:
    """joint_states features: positions, velocities, efforts (one per joint)."""
    return [[0.1] * joints + [velocity] * joints + [effort] * joints for _ in range(n)]


def test_noise_floor_a_still_robot_does_not_turn_small_changes_into_anomalies() -> None:
    """Variance collapse: a perfectly still signal has var ~ 0; without a floor any change scored in the thousands.
    With the battery voltage floor (0.1 V), 0.3 V scores 3, 1 V scores 10 (anomalous at 6)."""
    scorer = AnomalyScorer()
    scorer.score_batch(2, [[48.0]] * 40)
    fresh = AnomalyScorer()
    fresh.score_batch(2, [[48.0]] * 40)
    assert scorer.score_batch(2, [[48.3]])[0] == pytest.approx(3.0, rel=0.01)
    assert fresh.score_batch(2, [[49.0]])[0] == pytest.approx(10.0, rel=0.01)
    unfloored = AnomalyScorer(config=anomaly_config.ScoringConfig(channels={}))
    unfloored.score_batch(2, [[48.0]] * 40)
    assert unfloored.score_batch(2, [[48.3]])[0] > 1000


def test_states_counters_and_positions_are_not_scored() -> None:
    scorer = AnomalyScorer()
    odom = protocol.CHANNEL_IDS["odom"]
    rows = [[float(i), 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] for i in range(40)]
    scores = scorer.score_batch(odom, rows)  # position x travels 0 -> 39 m at rest speed 0: not an anomaly
    assert max(scores) == 0.0
    status = protocol.CHANNEL_IDS["safety_status"]
    scorer.score_batch(status, [[0.0, 1.0, float(i)] for i in range(40)])
    assert scorer.score_batch(status, [[3.0, 0.0, 1e6]]) == [0.0]


def test_the_moving_baseline_is_kept_apart_from_the_resting_one() -> None:
    joints = protocol.CHANNEL_IDS["joint_states"]
    scorer = AnomalyScorer()
    rng = random.Random(7)
    walking = [[0.1] * 3 + [1.0 + rng.gauss(0, 0.3)] * 3 + [20.0 + rng.gauss(0, 8.0)] * 3 for _ in range(60)]
    scorer.score_batch(joints, joint_rows(60, 0.0, 2.0))  # stands
    scorer.score_batch(joints, walking)  # walks (learns its moving baseline)
    assert scorer.moving and scorer.stats[joints].moving is not None
    scorer.score_batch(joints, joint_rows(scorer.config.rest_after + 60, 0.0, 2.0))  # stands long enough
    assert not scorer.moving
    rest_var = scorer.stats[joints].var.copy()
    # starts to walk again: compared with how it walks, not with how it stood
    scores = scorer.score_batch(joints, [[0.1] * 3 + [1.2] * 3 + [30.0] * 3])
    assert scorer.moving and scores[0] < 6.0
    assert (scorer.stats[joints].var == rest_var).all()  # the rest baseline did not absorb the walking sample
    # an overload while walking still stands out
    assert scorer.score_batch(joints, [[0.1] * 3 + [1.0] * 3 + [120.0] * 3])[0] > 6.0


def test_a_lasting_fault_stays_anomalous_for_seconds() -> None:
    """Samples scoring as anomalies are learned at outlier_weight: a 10 Hz step fault keeps scoring >= 6 for more
    than the 2 s a hold needs (before: learned within half a second)."""
    scorer = AnomalyScorer()
    battery = protocol.CHANNEL_IDS["battery"]
    scorer.score_batch(battery, [[48.0]] * 40)
    scores = [scorer.score_batch(battery, [[47.0]])[0] for _ in range(30)]  # a 1 V sag, 3 s at 10 Hz
    assert min(scores) >= 6.0


def test_stats_with_both_modes_round_trip_and_old_documents_load() -> None:
    joints = protocol.CHANNEL_IDS["joint_states"]
    scorer = AnomalyScorer()
    scorer.score_batch(joints, joint_rows(30, 0.0, 2.0))
    scorer.score_batch(joints, joint_rows(30, 1.0, 20.0))
    doc = orjson.loads(orjson.dumps(scorer.stats[joints].to_json()))
    again = ChannelStats.from_json(doc)
    assert again is not None and again.moving is not None and again.moving.count == scorer.stats[joints].moving.count
    old = ChannelStats.from_json({"mean": [1.0], "var": [0.1], "count": 40})  # stored before operating modes
    assert old is not None and old.moving is None
    assert ChannelStats.from_json({**doc, "moving": {"mean": [float("nan")] * 9, "var": [1.0] * 9, "count": 3}}) \
        is None


def test_scoring_config_is_validated_with_the_entry_named(tmp_path) -> None:
    config = anomaly_config.load()
    assert config.layout(protocol.CHANNEL_IDS["joint_states"], 69)[2].name == "effort"  # 23 joints x 3
    assert [c.name for c in config.layout(protocol.CHANNEL_IDS["battery"], 1)] == ["voltage"]
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["channels"]["battery"]["voltage"]["floor"] = -1
    with pytest.raises(anomaly_config.ScoringConfigError, match=r"channels.battery.voltage.floor"):
        anomaly_config.parse(doc)
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["channels"]["imu"]["spin"] = {"size": 1, "floor": 1.0, "description": "x"}
    with pytest.raises(anomaly_config.ScoringConfigError, match=r"channels.imu.spin"):
        anomaly_config.parse(doc)
    doc = yaml.safe_load(anomaly_config.DEFAULT_FILE.read_text())
    doc["alpha"]["value"] = 2
    bad = tmp_path / "scoring.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(anomaly_config.ScoringConfigError, match="alpha"):
        anomaly_config.load(bad)
