"""Walkers, the human detector, noise and the fault book (pure models)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_sim.faults import DEGRADATION_KINDS, KINDS, FaultBook, FaultError
from sigma_sim.humans import APPROACH_STANDOFF, KEEP_CLEAR, Human, detect
from sigma_sim.noise import ImuNoise, ImuNoiseConfig


def test_loop_walker_visits_waypoints_at_its_speed():
    h = Human("w", np.array([0.0, 0.0]), 1.2, [(0.0, 0.0), (4.0, 0.0), (4.0, 3.0)])
    rng = np.random.default_rng(0)
    visited, speeds = set(), []
    for _ in range(2000):
        before = h.position.copy()
        h.step(0.01, rng)
        speeds.append(float(np.hypot(*(h.position - before))) / 0.01)
        visited.add((round(h.position[0], 3), round(h.position[1], 3)))
    assert {(4.0, 0.0), (4.0, 3.0), (0.0, 0.0)} <= visited
    assert max(speeds) <= 1.2 + 1e-9 and np.median(speeds) == pytest.approx(1.2)


def test_random_walker_stays_in_bounds_and_is_deterministic():
    def run(seed):
        h = Human("v", np.array([0.0, 0.0]), 1.5, mode="random", bounds=(-2, -1, 2, 1))
        rng = np.random.default_rng(seed)
        path = []
        for _ in range(3000):
            h.step(0.02, rng)
            path.append(h.position.copy())
        return np.array(path)

    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a[:, 0].min() >= -2 and a[:, 0].max() <= 2 and a[:, 1].min() >= -1 and a[:, 1].max() <= 1


def test_walkers_wait_for_robots_but_an_approaching_human_does_not():
    rng = np.random.default_rng(0)
    robot = np.array([[2.0, 0.0]])
    polite = Human("p", np.array([0.0, 0.0]), 1.0, [(0.0, 0.0), (4.0, 0.0)])
    assert KEEP_CLEAR < 2.0  # the walker starts farther away than it keeps
    hazard = Human("h", np.array([0.0, 0.0]), 1.0, mode="approach")
    hazard.goal = np.array([4.0, 0.0])
    for _ in range(300):
        polite.step(0.01, rng, robot)
        hazard.step(0.01, rng, robot)
    assert 2.0 - polite.position[0] == pytest.approx(KEEP_CLEAR, abs=0.02) and not polite.velocity.any()
    assert hazard.position[0] == pytest.approx(3.0)  # walked 3 m straight at it ...
    for _ in range(100):
        hazard.step(0.01, rng, robot)
    assert hazard.position[0] == pytest.approx(4.0 - APPROACH_STANDOFF) and not hazard.velocity.any()  # ... and stops


def test_detector_respects_range_and_field_of_view_in_base_frame():
    humans = [
        Human("front", np.array([3.0, 0.0]), 1.0, [(3.0, 0.0), (3.0, 1.0)]),
        Human("behind", np.array([-3.0, 0.0]), 1.0, [(-3.0, 0.0), (-3.0, 1.0)]),
        Human("far", np.array([30.0, 0.0]), 1.0, [(30.0, 0.0), (31.0, 0.0)]),
    ]
    rng = np.random.default_rng(0)
    seen = detect(humans, np.array([0.0, 0.0]), 0.0, np.zeros(2), 8.0, 2.4, 0.0, rng)
    assert [d.id for d in seen] == ["front"]
    # robot turned to face -x: "behind" is now straight ahead at x = 3 in the base frame
    seen = detect(humans, np.array([0.0, 0.0]), math.pi, np.zeros(2), 8.0, 2.4, 0.0, rng)
    assert [d.id for d in seen] == ["behind"] and seen[0].x == pytest.approx(3.0) and abs(seen[0].y) < 1e-9
    noisy = detect(humans, np.zeros(2), 0.0, np.zeros(2), 8.0, 2.4, 0.1, rng)
    assert noisy[0].x != 3.0 and abs(noisy[0].x - 3.0) < 1.0


def test_imu_noise_has_configured_spread():
    noise = ImuNoise(ImuNoiseConfig(gyro_std=0.01, gyro_bias_std=0.0, accel_std=0.1, accel_bias_std=0.0))
    rng = np.random.default_rng(1)
    samples = np.array([noise.apply(rng, np.zeros(3), np.zeros(3), 0.01)[0] for _ in range(4000)])
    assert samples.std() == pytest.approx(0.01, rel=0.1)


def test_fault_book_validates_and_expires():
    book = FaultBook(["left_knee"])
    with pytest.raises(FaultError, match=r"unknown fault kind 'melt'"):
        book.inject("r1", "melt", "", 0.0, 0.0, 0.0)
    with pytest.raises(FaultError, match="unknown joint 'tail'"):
        book.inject("r1", "overheat", "tail", 10.0, 0.0, 0.0)
    with pytest.raises(FaultError, match=r"magnitude 99\.0 out of"):
        book.inject("r1", "battery_sag", "", 99.0, 0.0, 0.0)
    with pytest.raises(FaultError, match="not one of"):
        book.inject("r1", "silent_topic", "cmd_vel", 0.0, 0.0, 0.0)
    with pytest.raises(FaultError, match="finite"):
        book.inject("r1", "push", "", math.nan, 0.0, 0.0)
    f = book.inject("r1", "encoder_bias", "left_knee", 0.1, 2.0, 10.0)
    assert book.active("r1", "encoder_bias", 11.0) == [f]
    assert book.active("r2", "encoder_bias", 11.0) == []
    assert book.expire(12.5) == [f] and book.faults == []
    assert set(KINDS) == {"overheat", "stuck_joint", "encoder_bias", "encoder_noise", "spoofed_sensor",
                          "battery_sag", "silent_topic", "human_approach", "push", *DEGRADATION_KINDS}
