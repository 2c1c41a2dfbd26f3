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


def test_the_weight_moves_onto_the_hands_gradually_without_a_jerk():
    sim = make_sim()
    settled_effort(sim, "left_elbow")
    hand = sim.robots["r1"].index.robot_id + "/left_forearm"
    import mujoco

    body = mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, hand)
    m0 = float(sim.model.body_mass[body])
    sim.set_payload("r1", 8.0)
    _, v_prev, _ = sim.joint_state("r1")
    peak = 0.0
    for _ in range(200):                                  # 2 s in 10 ms steps
        sim.step(5)
        _, v, _ = sim.joint_state("r1")
        peak = max(peak, float(np.max(np.abs(v - v_prev))) / 0.01)
        v_prev = v
    assert float(sim.model.body_mass[body]) == pytest.approx(m0 + 4.0)     # fully held after 8 kg / 5 kg/s
    assert peak < 400.0        # below sigma_safety's joint acceleration limit (a jump in load would trip it)
