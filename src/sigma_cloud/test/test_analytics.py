"""Pure core: normalization, streaming anomaly scores, and the fast decoder's agreement with the reference."""

from __future__ import annotations

import math
import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigma_protocol as protocol
from sigma_cloud.core import fastpath
from sigma_cloud.core.analytics import AnomalyScorer, NormalizationError, normalize_payload
from sigma_cloud.core.retention import downsample

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
