"""sim/set_payload: a tote held between the hands loads the arm joints (real physics, not a flag)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import make_sim

from sigma_sim.simulation import MAX_PAYLOAD, CommandError

CARRY = {"left_shoulder_pitch": -0.3, "right_shoulder_pitch": -0.3, "left_elbow": -1.4, "right_elbow": -1.4}


def settled_effort(sim, joint: str) -> float:
    sim.set_joint_targets("r1", list(CARRY), list(CARRY.values()))
    sim.step(1500)                                   # 3 s at 500 Hz: slewed and settled
    _, _, effort = sim.joint_state("r1")
    return float(effort[sim.joint_names.index(joint)])


def test_a_held_tote_raises_shoulder_and_elbow_torque_by_about_its_weight_times_the_lever():
    sim = make_sim()
    free_shoulder = settled_effort(sim, "left_shoulder_pitch")
    free_elbow = settled_effort(sim, "left_elbow")
    assert "holds 6 kg" in sim.set_payload("r1", 6.0)
    loaded_shoulder = settled_effort(sim, "left_shoulder_pitch")
    loaded_elbow = settled_effort(sim, "left_elbow")
    # 3 kg per hand: at least 3 kg * g * 0.1 m more holding torque, at most at a 0.6 m lever
    for free, loaded in ((free_shoulder, loaded_shoulder), (free_elbow, loaded_elbow)):
        assert 3.0 * 9.81 * 0.1 < abs(loaded - free) < 3.0 * 9.81 * 0.6
    sim.set_payload("r1", 0.0)
    assert settled_effort(sim, "left_elbow") == pytest.approx(free_elbow, abs=0.5)


@pytest.mark.parametrize("mass", [-1.0, math.nan, math.inf, MAX_PAYLOAD + 1])
def test_bad_payloads_are_refused(mass):
    sim = make_sim()
    with pytest.raises(CommandError, match="payload"):
        sim.set_payload("r1", mass)
    with pytest.raises(CommandError, match="unknown robot"):
        make_sim().set_payload("r9", 1.0)
    assert np.isfinite(sim.model.body_mass).all()
