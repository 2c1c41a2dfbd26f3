"""Consistency checks (IMU vs odometry, battery voltage vs current) and the vibration signature, on synthetic
signals with hand-known answers: each check passes the consistent case and flags the contradicting one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigma_twin.core.consistency import (
    GRAVITY,
    BatteryConsistency,
    ImuOdometryCheck,
    VibrationMonitor,
    band_energy,
    internal_resistance,
    kurtosis,
)
from sigma_twin.core.params import ConsistencyParams


def test_band_energy_of_a_sinusoid_is_half_its_squared_amplitude() -> None:
    rate, n = 200.0, 512
    t = np.arange(n) / rate
    x = 0.8 * np.sin(2 * np.pi * 30.0 * t) + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    assert band_energy(x, rate, 20.0, 45.0) == pytest.approx(0.32, rel=0.05)  # only the 30 Hz tone
    assert band_energy(x, rate, 1.0, 10.0) == pytest.approx(0.125, rel=0.05)
    assert math.isnan(band_energy(x[:3], rate, 1.0, 10.0))


def test_kurtosis_gaussian_three_and_impacts_higher() -> None:
    rng = np.random.default_rng(1)
    assert kurtosis(rng.standard_normal(20000)) == pytest.approx(3.0, abs=0.15)
    spikes = rng.standard_normal(2000) * 0.1
    spikes[::100] += 5.0
    assert kurtosis(spikes) > 10.0
    assert math.isnan(kurtosis(np.ones(10)))


def test_internal_resistance_by_hand() -> None:
    assert internal_resistance(np.array([-0.1, 0.2]), np.array([1.0, -2.0])) == pytest.approx(0.1)
    assert math.isnan(internal_resistance(np.zeros(3), np.zeros(3)))


def _drive(check: ImuOdometryCheck, rng: np.random.Generator, seconds: float, spoof: bool = False) -> None:
    """A robot driving a slalom: odometry 50 Hz, IMU 100 Hz with noise and a small gyro bias."""
    for k in range(int(seconds * 100)):
        t = k / 100.0
        speed = 0.6 + 0.3 * math.sin(0.5 * t)
        accel = 0.15 * math.cos(0.5 * t)
        yaw = 0.4 * math.sin(0.8 * t)
        gyro = np.array([0.0, 0.0, yaw + 0.005 + rng.normal(0, 0.01)])
        acc = np.array([accel + rng.normal(0, 0.3), yaw * speed + rng.normal(0, 0.3), GRAVITY + rng.normal(0, 0.3)])
        if spoof:  # the simulator's spoofed IMU: spinning and in free fall
            gyro, acc = np.array([0.0, 0.0, 0.8]), np.zeros(3)
        check.add_imu(t, gyro, acc)
        if k % 2 == 0:
            check.add_odom(t, speed + rng.normal(0, 0.01), yaw + rng.normal(0, 0.005))


def test_imu_agreeing_with_odometry_is_not_flagged() -> None:
    check = ImuOdometryCheck()
    _drive(check, np.random.default_rng(2), 120.0)
    assert check.windows > 100
    assert check.flagged() == [], check.rms()
    assert check.rms()["yaw_rate"] < 0.05


def test_spoofed_imu_is_flagged_on_yaw_rate_and_gravity() -> None:
    check = ImuOdometryCheck()
    _drive(check, np.random.default_rng(3), 60.0, spoof=True)
    assert set(check.flagged()) >= {"yaw_rate", "gravity"}


def test_imu_check_not_ready_without_enough_windows_and_silent_odometry_is_no_evidence() -> None:
    check = ImuOdometryCheck(ConsistencyParams(min_windows=5))
    for k in range(300):  # IMU alone for 3 s: nothing to compare with
        check.add_imu(k / 100.0, np.array([0.0, 0.0, 2.0]), np.zeros(3))
    assert check.windows == 0 and check.flagged() == []


def _battery(check: BatteryConsistency, rng: np.random.Generator, r: float, frozen: bool = False) -> None:
    ocv = 50.0
    v_frozen = 49.0
    for k in range(600):
        current = 10.0 + (8.0 if (k // 7) % 2 else 0.0) + rng.normal(0, 0.05)
        ocv -= 0.0005
        v = v_frozen if frozen else ocv - r * current + rng.normal(0, 0.02)
        check.add(float(k), v, current)


def test_battery_voltage_following_current_is_consistent_and_resistance_estimated() -> None:
    check = BatteryConsistency()
    _battery(check, np.random.default_rng(4), 0.08)
    assert not check.flag and check.reason() == ""
    assert check.resistance == pytest.approx(0.08, rel=0.1)


def test_frozen_battery_voltage_is_flagged() -> None:
    check = BatteryConsistency()
    _battery(check, np.random.default_rng(5), 0.08, frozen=True)
    assert check.flag and "does not follow" in check.reason()


def test_sagging_pack_resistance_above_range_is_flagged() -> None:
    check = BatteryConsistency()
    _battery(check, np.random.default_rng(6), 2.0)
    assert check.flag and "above" in check.reason()


def test_battery_without_current_steps_is_not_judged() -> None:
    check = BatteryConsistency()
    for k in range(600):  # constant draw: voltage may do anything, there is nothing to judge it by
        check.add(float(k), 49.0, 10.0)
    assert not check.flag


def _vibration(mon: VibrationMonitor, rng: np.random.Generator, seconds: float, t0: float, tone: float) -> None:
    for k in range(int(seconds * 100)):
        t = t0 + k / 100.0
        a = np.array([0.0, 0.0, GRAVITY + 0.3 * math.sin(2 * math.pi * 1.7 * t) + rng.normal(0, 0.05)
                      + tone * math.sin(2 * math.pi * 31.0 * t)])
        mon.add(t, a)


def test_vibration_band_energy_rise_is_flagged_after_learning() -> None:
    p = ConsistencyParams(vibration_learn_time=300.0)
    mon = VibrationMonitor(p)
    rng = np.random.default_rng(7)
    _vibration(mon, rng, 600.0, 0.0, 0.0)  # learn, then keep running healthy
    assert not mon.flag and mon.learnt > 100 and abs(mon.z) < 6.0
    _vibration(mon, rng, 30.0, 600.0, 0.4)  # a bearing defect ringing at 31 Hz
    assert mon.flag and "vibration" in mon.reason()
    assert mon.energy == pytest.approx(0.08, rel=0.3)


def test_consistency_params_refuse_inverted_ranges() -> None:
    with pytest.raises(ValueError):
        ConsistencyParams(r_min=1.0, r_max=0.5)
    with pytest.raises(ValueError):
        ConsistencyParams(vibration_band_low=50.0, vibration_band_high=20.0)
