"""Federated learning of the robots' anomaly model and the drift gate (pure cores; seeded synthetic fleets).

Shown: a robot that never saw a fault class detects it after one round; one poisoned robot cannot move any
aggregated coordinate outside the honest robots' range (the stated bound) nor cost more than 0.05 accuracy, while
plain FedAvg is broken by the same update; malformed updates are refused with a reason; a robot adopts a fleet model
only after its shadow check; the drift gate promotes, rejects and rolls back by a stated margin, each audited."""

from __future__ import annotations

import math
import random

import pytest

from sigma_cloud.cognition import drift, federated
from sigma_cloud.cognition.federated import NORMAL, ClassStats, Model, UpdateRefusedError

DIM = 8
SHIFT = {"overheat": (0, 1), "bearing": (4, 5)}


def sample(rng: random.Random, label: str) -> list[float]:
    x = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    for j in SHIFT.get(label, ()):
        x[j] += 4.0
    return x


def robot_model(rng: random.Random, seen: tuple[str, ...], n: int = 200) -> Model:
    return federated.fit({label: [sample(rng, label) for _ in range(n if label == NORMAL else n // 4)]
                          for label in (NORMAL, *seen)}, DIM)


def fleet(rng: random.Random) -> dict[str, Model]:
    return {"a": robot_model(rng, ("overheat",)), "b": robot_model(rng, ("bearing",)),
            "c": robot_model(rng, ("overheat", "bearing")), "d": robot_model(rng, ("bearing",)),
            "f": robot_model(rng, ("overheat",))}


def labelled(rng: random.Random, label: str, n: int = 300) -> list[tuple[list[float], str]]:
    return [(sample(rng, label), label) for _ in range(n)]


def test_a_robot_that_never_saw_a_fault_class_detects_it_after_one_round() -> None:
    rng = random.Random(1)
    models = fleet(rng)
    bearing = labelled(rng, "bearing")
    assert federated.accuracy(models["a"], bearing) < 0.2  # robot a has only seen overheating
    global_model = federated.aggregate(list(models.values()), version=1)
    assert federated.accuracy(global_model, bearing) > 0.95
    normal = labelled(rng, NORMAL)
    assert federated.accuracy(global_model, normal) > 0.95  # and few false alarms
    assert global_model.robust == {"bearing": True, "normal": True, "overheat": True}
    adopt, reason = federated.shadow_check(models["a"], global_model, normal[:100] + labelled(rng, "overheat", 50))
    assert adopt, reason


def poisoned() -> Model:
    """Label-flip + scale attack: 'bearing' claimed to look exactly like normal data, with a huge sample count."""
    return Model(DIM, {NORMAL: ClassStats(10**9, tuple([0.0] * DIM), tuple([1.0] * DIM)),
                       "bearing": ClassStats(10**9, tuple([0.0] * DIM), tuple([0.05] * DIM))})


def test_one_poisoned_robot_cannot_degrade_the_fleet_model_beyond_the_bound() -> None:
    rng = random.Random(2)
    honest = list(fleet(rng).values())
    evaluation = labelled(rng, "bearing") + labelled(rng, NORMAL) + labelled(rng, "overheat")
    clean = federated.aggregate(honest, version=1)
    attacked = federated.aggregate([*honest, poisoned()], version=2)
    # the bound: every aggregated coordinate stays within the honest robots' range for it
    for name, stats in attacked.classes.items():
        reports = [m.classes[name] for m in honest if name in m.classes]
        for j in range(DIM):
            assert min(r.mean[j] for r in reports) - 1e-12 <= stats.mean[j] <= max(r.mean[j] for r in reports) + 1e-12
            assert min(r.var[j] for r in reports) - 1e-12 <= stats.var[j] <= max(r.var[j] for r in reports) + 1e-12
    loss = federated.accuracy(clean, evaluation) - federated.accuracy(attacked, evaluation)
    assert loss <= 0.05
    naive = federated.aggregate([*honest, poisoned()], version=2, trim=0, count_cap=math.inf)  # plain FedAvg
    assert federated.accuracy(clean, evaluation) - federated.accuracy(naive, evaluation) > 0.2


@pytest.mark.parametrize(("bad", "reason"), [
    (Model(DIM, {NORMAL: ClassStats(10, tuple([math.nan] * DIM), tuple([1.0] * DIM))}), "mean\\[0\\]"),
    (Model(DIM, {NORMAL: ClassStats(10, tuple([0.0] * DIM), tuple([-1.0] * DIM))}), "var\\[0\\]"),
    (Model(DIM, {NORMAL: ClassStats(0, tuple([0.0] * DIM), tuple([1.0] * DIM))}), "count"),
    (Model(3, {NORMAL: ClassStats(10, (0.0,) * 3, (1.0,) * 3)}), "3 features"),
    (Model(DIM, {NORMAL: ClassStats(10, tuple([1e300] * DIM), tuple([1.0] * DIM))}), "beyond"),
    (Model(DIM, {}), "no classes"),
])
def test_malformed_updates_are_refused_with_the_reason(bad: Model, reason: str) -> None:
    honest = list(fleet(random.Random(3)).values())
    with pytest.raises(UpdateRefusedError, match=reason):
        federated.aggregate([*honest, bad], version=1)


def test_the_shadow_check_refuses_a_worse_candidate() -> None:
    rng = random.Random(4)
    local = robot_model(rng, ("overheat",))
    recent = labelled(rng, NORMAL, 100) + labelled(rng, "overheat", 100)
    worse = Model(DIM, {NORMAL: ClassStats(10, tuple([4.0] * DIM), tuple([1.0] * DIM)),
                        "overheat": ClassStats(10, tuple([0.0] * DIM), tuple([1.0] * DIM))}, version=9)
    adopt, reason = federated.shadow_check(local, worse, recent)
    assert not adopt and "< local" in reason
    assert federated.shadow_check(local, local, []) == (False, "no recent data to check the candidate against")


def run_gate(state: drift.GateState, params: drift.GateParams, live_rate: float, cand_rate: float, n: int,
             rng: random.Random) -> drift.GateState:
    for _ in range(n):
        state = drift.observe(state, live_right=rng.random() < live_rate,
                              candidate_right=None if state.candidate is None else rng.random() < cand_rate)
    return state


def test_the_drift_gate_promotes_rejects_and_rolls_back_by_the_margin_with_audit_records() -> None:
    rng = random.Random(5)
    params = drift.GateParams(margin=0.02, min_samples=400)
    state = drift.propose(drift.GateState(live="v1"), "v2")
    state = run_gate(state, params, 0.90, 0.95, 399, rng)
    assert drift.decide(state, params, "system:cognition") == (state, None)  # too few inputs yet
    state = run_gate(state, params, 0.90, 0.95, 1, rng)
    state, record = drift.decide(state, params, "system:cognition")
    assert state.live == "v2" and state.previous == "v1"
    assert record is not None and record["action"] == "model.promote" and "on the same 400 inputs" in record["why"]

    state = drift.propose(state, "v3")  # clearly worse: rejected, v2 stays
    state = run_gate(state, params, 0.95, 0.80, 400, rng)
    state, record = drift.decide(state, params, "system:cognition")
    assert state.live == "v2" and state.candidate is None and record["action"] == "model.reject"

    worse_live = drift.GateState(live="v2", previous="v1", previous_quality=0.90)
    worse_live = run_gate(worse_live, params, 0.70, 0.0, 400, rng)  # v2 degrades live (drift)
    state, record = drift.decide(worse_live, params, "system:cognition")
    assert state.live == "v1" and record["action"] == "model.rollback" and "previous 0.900" in record["why"]
    with pytest.raises(ValueError, match="margin"):
        drift.GateParams(margin=1.5)
