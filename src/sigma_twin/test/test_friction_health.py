"""Round 25: a worn knee's friction health follows the wear model's truth; a healthy knee's stays near 1.

The health index is 1 - (feature - commissioning value)/(limit - commissioning value). Until round 24 its feature was
the friction trend's level, the onset mixture's mean, which hedges toward "no onset" (the mean of all points): on the
cross-process test's worn knee (growth 0.75 per hour for 75 min) it read 0.92-0.97 against a truth of 0.69, lost
samples raised it (0.960 in a CI run on a loaded host). It now takes the estimate the report states (the tied
Coulomb friction). The truth is used only to judge: the twin sees the published measurements alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sigma_sim.degradation import Degradation
from sigma_sim.wear import WearConfig, WearSimulator
from sigma_twin.core.params import EstimatorParams, LimitParams, PrognosisParams
from sigma_twin.core.robot import RobotTwin

# the cross-process test's shortened memories and epochs (test_health_to_cloud.TWIN_PARAMS)
EST = dataclasses.replace(EstimatorParams(), thermal_memory=1200.0, friction_memory=600.0)
PROG = dataclasses.replace(PrognosisParams(), epoch=120.0, min_history=0.5, trend_window=3.0)


def _run(rate: float, seed: int, lost: float) -> list[tuple[float, float]]:
    """(reported friction health, the truth's) every 10 min of a 75 min run; ``lost``: share of messages dropped."""
    twin = RobotTwin(["knee"], EST, prog=PROG)
    sim = WearSimulator([Degradation("friction_growth", onset=0.0, rate=rate) if rate else None], seed=seed,
                        cfg=WearConfig(dt=4.0))
    rng = np.random.default_rng(seed)
    limit = LimitParams().friction_limit
    f0 = None
    out = []
    for i in range(int(1.25 * 3600 / 4.0)):
        m = sim.step()
        t = 1000.0 + m.t
        f0 = sim.truth.coulomb_friction[0] if f0 is None else f0
        if rng.random() >= lost:
            twin.on_joint_states(t, ["knee"], [m.position[0]], [m.velocity[0]], [m.effort[0]])
        if rng.random() >= lost:
            twin.on_actuator_health(t, ["knee"], [m.t_winding[0]], [m.t_housing[0]], [m.current[0]])
        if i % 150 == 149:
            h = twin.actuators.forecast(t, twin.rng)["friction"].health[0]
            out.append((float(h), 1.0 - (sim.truth.coulomb_friction[0] - f0) / (limit - f0)))
    return out


@pytest.mark.parametrize("seed,lost", [(3, 0.0), (5, 0.5)])
def test_a_worn_knee_s_friction_health_follows_the_truth(seed: int, lost: float) -> None:
    runs = _run(0.75, seed, lost)
    health, truth = np.array(runs).T
    assert truth[-1] < 0.72
    # the estimate trails its data by about a memory: it reads high, never far (0.06-0.09 at the end on a replay)
    late = slice(-3, None)
    assert np.all(health[late] >= truth[late] - 0.02) and np.all(health[late] <= truth[late] + 0.12), runs
    assert health[-1] < 0.85 and np.all(np.diff(health[late]) < 0.0)


@pytest.mark.parametrize("seed,lost", [(4, 0.0), (6, 0.5)])
def test_a_healthy_knee_s_friction_health_stays_near_one(seed: int, lost: float) -> None:
    health = np.array(_run(0.0, seed, lost))[:, 0]
    assert np.all(health >= 0.97), health
