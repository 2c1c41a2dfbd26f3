"""Physics of the simulated humanoid, run with MuJoCo directly (no ROS)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yourdfpy
from helpers import URDF, make_sim

from sigma_sim.battery import motor_power
from sigma_sim.faults import FaultError
from sigma_sim.humans import APPROACH_STANDOFF
from sigma_sim.simulation import BASE_ACCEL, CommandError
from sigma_sim.thermal import winding_resistance

G = 9.81


def test_horizontal_arm_shoulder_effort_matches_m_g_l():
    sim = make_sim()
    sim.set_joint_targets("r1", ["left_shoulder_pitch", "left_elbow"], [-math.pi / 2, 0.0])
    sim.step(1500)
    pos, vel, eff = sim.joint_state("r1")
    names = sim.joint_names
    assert np.abs(vel).max() < 0.01  # settled
    assert pos[names.index("left_shoulder_pitch")] == pytest.approx(-math.pi / 2, abs=0.08)
    # expected gravity torque from the URDF's masses and centres of mass at the measured joint angles
    urdf = yourdfpy.URDF.load(str(URDF))
    urdf.update_cfg(dict(zip(names, pos, strict=True)))
    shoulder_x = urdf.get_transform("left_shoulder_pitch_link", "base_link")[0, 3]
    torque = 0.0
    for link in ("left_shoulder_pitch_link", "left_shoulder_roll_link", "left_upper_arm", "left_forearm"):
        inertial = urdf.link_map[link].inertial
        com = urdf.get_transform(link, "base_link") @ inertial.origin[:, 3]
        torque += inertial.mass * G * (com[0] - shoulder_x)
    assert torque > 9.0  # the whole arm is out front
    assert abs(eff[names.index("left_shoulder_pitch")]) == pytest.approx(torque, rel=0.03)


def test_same_seed_same_trajectory_other_seed_other_noise():
    def run(seed: int):
        sim = make_sim(["r1", "r2"], seed=seed)
        trace = []
        for k in range(40):
            sim.set_joint_targets("r1", ["right_elbow"], [-0.03 * k])
            sim.set_base_velocity("r2", 0.3, 0.0, 0.2)
            sim.step(25)
            trace.append(np.concatenate([sim.data.qpos, sim.imu("r1")[1], [h.position[0] for h in sim.humans]]))
        return np.array(trace), sim.data.qpos.copy()

    (a, qa), (b, _), (c, qc) = run(5), run(5), run(6)
    assert np.array_equal(a, b)
    assert np.array_equal(qa, qc)  # physics itself has no randomness
    assert not np.array_equal(a, c)  # sensor noise and random walkers do


def test_battery_energy_matches_integrated_electrical_power():
    sim = make_sim()
    r = sim.robots["r1"]
    integrated = 0.0
    act, dof = r.index.actuators, r.index.dof
    for k in range(600):
        if k % 100 == 0:
            sim.set_joint_targets("r1", ["left_shoulder_pitch", "right_knee"], [-1.5 if k % 200 else 0.0, 1.0])
            sim.set_base_velocity("r1", 0.4 if k % 200 else -0.4, 0.0, 0.0)
        res = winding_resistance(sim.r0 * r.r0_scale, r.thermal.t_winding)
        sim.step(1)
        tau, omega = sim.data.actuator_force[act], sim.data.qvel[dof]
        p = motor_power(tau, omega, np.abs(tau) / sim.kt_gear, res).sum()
        base = sim.data.actuator_force[r.index.base_actuators] * sim.data.qvel[r.index.base_dof:r.index.base_dof + 3]
        p += np.abs(base).sum() / sim.cfg.locomotion_efficiency + sim.cfg.idle_power
        integrated += p * sim.dt
    assert integrated > 600 * sim.dt * sim.cfg.idle_power * 1.05  # motion drew real power beyond idle
    assert r.battery.energy_delivered == pytest.approx(integrated, rel=1e-9)


def test_motor_current_heats_windings():
    sim = make_sim()
    sim.set_joint_targets("r1", ["left_shoulder_pitch", "right_shoulder_pitch"], [-math.pi / 2, -math.pi / 2])
    sim.step(5000)
    tw, th, cur, volts = sim.actuator_health("r1")
    i = sim.joint_names.index("left_shoulder_pitch")
    assert cur[i] == pytest.approx(abs(sim.joint_state("r1")[2][i]) / sim.kt_gear[i])
    assert tw[i] > th[i] > 25.0  # heat flows winding -> housing -> ambient
    assert tw[sim.joint_names.index("neck_yaw")] == pytest.approx(25.0, abs=0.05)
    assert 40.0 < volts < 60.0


def test_overheated_drive_cuts_torque_and_the_arm_drops():
    sim = make_sim()
    i = sim.joint_names.index("left_shoulder_pitch")
    sim.set_joint_targets("r1", ["left_shoulder_pitch"], [-math.pi / 2])
    sim.step(1000)
    sim.inject_fault("r1", "overheat", "left_shoulder_pitch", 300.0, 0.0)
    for _ in range(40):
        sim.step(250)
        if sim.robots["r1"].tripped[i]:
            break
    tw = sim.actuator_health("r1")[0][i]
    assert sim.robots["r1"].tripped[i] and tw > sim.max_winding[i]
    swing = []
    for _ in range(100):
        sim.step(5)
        pos, _, eff = sim.joint_state("r1")
        swing.append(pos[i])
        assert eff[i] == 0.0
    assert max(swing) > -0.3  # no torque: the arm falls from horizontal and swings down past vertical-ish


def test_planar_base_follows_velocity_commands_and_brake_stops_everything():
    sim = make_sim()
    x0 = sim.odometry("r1")[0].copy()
    sim.set_base_velocity("r1", 0.5, 0.0, 0.0)
    sim.step(1000)
    pos, _, lin, _ = sim.odometry("r1")
    ramp_loss = 0.5**2 / (2 * BASE_ACCEL[0])  # the set-point reaches 0.5 m/s at a bounded acceleration
    assert pos[0] - x0[0] == pytest.approx(1.0 - ramp_loss, abs=0.05) and abs(pos[1] - x0[1]) < 0.01
    assert lin[0] == pytest.approx(0.5, abs=0.02)
    sim.set_joint_targets("r1", ["left_elbow"], [-2.0])
    sim.step(50)
    sim.set_brake("r1", True)
    held = sim.joint_state("r1")[0]
    with pytest.raises(CommandError, match="brake engaged"):
        sim.set_joint_targets("r1", ["left_elbow"], [0.0])
    sim.set_base_velocity("r1", 1.0, 0.0, 0.0)  # ignored: the brake holds the base
    sim.step(500)
    assert np.abs(sim.joint_state("r1")[0] - held).max() < 2e-3
    assert np.abs(sim.odometry("r1")[2]).max() < 0.01


def test_robot_charges_when_parked_on_a_dock():
    sim = make_sim()
    r = sim.robots["r1"]
    sim.step(100)
    assert not r.battery.charging
    soc = r.battery.soc
    # drive from the spawn (-10, 0) to dock_1 (-13.5, -8.5) round the shelves (yaw 0: base axes = world axes)
    x, y = sim.odometry("r1")[0][:2]
    sim.set_base_velocity("r1", (-13.5 - x) / 2.0, 0.0, 0.0)
    sim.step(1000)
    sim.set_base_velocity("r1", 0.0, (-8.5 - y) / 4.0, 0.0)
    sim.step(2000)
    sim.set_base_velocity("r1", 0.0, 0.0, 0.0)
    sim.step(750)  # decelerating at BASE_ACCEL makes up the distance lost while accelerating
    sim.step(5)  # a control period entirely at rest on the dock
    assert np.hypot(*(sim.odometry("r1")[0][:2] - (-13.5, -8.5))) < 0.2
    assert sim.docked(r) and r.battery.charging
    soc_docked = r.battery.soc
    sim.step(500)
    assert r.battery.soc > soc_docked and r.battery.voltage > 0 and r.battery.current < 0
    assert soc_docked < soc  # the drive there discharged it


def test_robots_collide_with_each_other_and_shelves_but_not_themselves():
    sim = make_sim(["r1", "r2"])  # spawned at x = -10 and x = -7, both facing +x
    assert sim.data.ncon == 0  # standing in its posture, no link touches another link of the same robot
    sim.set_base_velocity("r1", 1.0, 0.0, 0.0)
    sim.step(3000)  # 6 s at 1 m/s would carry r1 3 m past r2 if they did not collide
    gap = sim.odometry("r2")[0][0] - sim.odometry("r1")[0][0]
    assert 0.15 < gap < 1.0  # pelvis boxes (0.2 m deep) in contact
    sim.set_base_velocity("r1", 0.0, 1.0, 0.0)  # sideways into the shelf row at y = 1.6 .. 2.4
    sim.step(3000)
    assert sim.odometry("r1")[0][1] < 1.6


def test_people_are_physical_obstacles():
    sim = make_sim()
    x0 = sim.odometry("r1")[0][0]
    sim.inject_fault("r1", "human_approach", "", 1.5, 0.0)
    sim.step(3000)  # 6.4 m at 1.5 m/s: the person walks up to the robot and stands face to face
    human = next(h for h in sim.humans if h.id.startswith("approach_"))
    assert human.position[0] == pytest.approx(x0 + APPROACH_STANDOFF, abs=0.05)
    sim.set_base_velocity("r1", 0.5, 0.0, 0.0)  # drive into the person: blocked, not passing through
    sim.step(1500)
    assert sim.odometry("r1")[0][0] < x0 + APPROACH_STANDOFF - 0.2
    slot = sim._slots[human.id]
    assert np.allclose(sim.data.mocap_pos[slot, :2], human.position)
    for _ in range(3):
        sim.inject_fault("r1", "human_approach", "", 1.0, 1.0)
    with pytest.raises(FaultError, match="at most 4 approaching"):
        sim.inject_fault("r1", "human_approach", "", 1.0, 1.0)
    sim.step(600)  # the 1 s faults expire: their people leave and free their bodies
    assert len([h for h in sim.humans if h.id.startswith("approach_")]) == 1


def test_bad_targets_are_refused_and_not_applied():
    sim = make_sim()
    before = sim.robots["r1"].target.copy()
    for names, pos, match in (
        (["left_elbow"], [math.nan], "not finite"),
        (["left_elbow"], [math.inf], "not finite"),
        (["left_elbow", "left_knee"], [-0.5, 3.0], r"left_knee: target 3.0000 outside limits \[0.0000, 2.4000\]"),
        (["tail"], [0.0], "unknown joint 'tail'"),
        (["left_elbow"], [0.0, 1.0], "1 names but 2 positions"),
    ):
        with pytest.raises(CommandError, match=match):
            sim.set_joint_targets("r1", names, pos)
    with pytest.raises(CommandError, match="not finite"):
        sim.set_base_velocity("r1", math.nan, 0.0, 0.0)
    assert np.array_equal(sim.robots["r1"].target, before)  # all-or-nothing: nothing applied


def test_free_base_stands_then_falls_when_pushed():
    sim = make_sim(base_mode="free")
    z0 = sim.odometry("r1")[0][2]
    sim.step(5000)
    assert sim.odometry("r1")[0][2] == pytest.approx(z0, abs=0.03)  # stands on its feet, for 10 s at least
    sim.inject_fault("r1", "push", "", 150.0, 0.0)
    sim.step(1500)
    assert sim.odometry("r1")[0][2] < 0.5  # on the floor


def test_stuck_joint_holds_position_while_the_drive_strains():
    sim = make_sim()
    i = sim.joint_names.index("left_elbow")
    sim.inject_fault("r1", "stuck_joint", "left_elbow", 0.0, 0.0)
    sim.set_joint_targets("r1", ["left_elbow", "right_elbow"], [-1.5, -1.5])
    sim.step(500)
    pos, _, eff = sim.joint_state("r1")
    assert abs(pos[i]) < 0.02 and pos[sim.joint_names.index("right_elbow")] < -1.4
    assert abs(eff[i]) > 0.9 * sim.effort_limit[i]


def test_the_torque_limit_caps_a_straining_drive_and_is_refused_out_of_range():
    sim = make_sim()
    i = sim.joint_names.index("left_elbow")
    sim.inject_fault("r1", "stuck_joint", "left_elbow", 0.0, 0.0)
    sim.set_joint_targets("r1", ["left_elbow"], [-1.5])
    sim.set_torque_limit("r1", 0.5)  # the safety gate caps the drives at the continuous rating
    sim.step(500)
    eff = sim.joint_state("r1")[2]
    assert 0.45 * sim.effort_limit[i] < abs(eff[i]) <= 0.5 * sim.effort_limit[i] + 1e-6
    sim.set_torque_limit("r1", 1.0)
    sim.step(100)
    assert abs(sim.joint_state("r1")[2][i]) > 0.9 * sim.effort_limit[i]
    for bad in (-0.1, 1.5, math.nan, math.inf):
        with pytest.raises(CommandError, match="torque limit"):
            sim.set_torque_limit("r1", bad)
    assert sim.robot("r1").torque_fraction == 1.0


def test_a_tripped_drive_stays_off_under_any_torque_limit():
    sim = make_sim()
    r, i = sim.robot("r1"), sim.joint_names.index("left_elbow")
    r.tripped[i] = True
    sim.set_torque_limit("r1", 0.8)
    lo, hi = sim.model.actuator_forcerange[r.index.actuators[i]]
    assert lo == hi == 0.0
    j = sim.joint_names.index("right_elbow")
    assert sim.model.actuator_forcerange[r.index.actuators[j]][1] == 0.8 * sim.effort_limit[j]


def test_an_approaching_person_walks_at_where_the_robot_is_now():
    sim = make_sim()
    sim.inject_fault("r1", "human_approach", "", 1.5, 0.0)
    sim.step(3000)
    human = next(h for h in sim.humans if h.id.startswith("approach_"))
    sim.set_base_velocity("r1", -0.5, 0.0, 0.0)  # back away 1 m; the person follows
    sim.step(1000)
    sim.set_base_velocity("r1", 0.0, 0.0, 0.0)
    sim.step(1500)
    x = sim.odometry("r1")[0][0]
    assert human.position[0] == pytest.approx(x + APPROACH_STANDOFF, abs=0.1)
