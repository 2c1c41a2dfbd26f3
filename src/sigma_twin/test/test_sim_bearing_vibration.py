"""The MuJoCo simulator's bearing wear shakes its IMU, and the twin's vibration monitor sees it from the IMU alone.

sigma_sim adds to the torso IMU's specific force a worn bearing's defect-frequency tone and sparse impacts, growing
with the friction_growth level (``sigma_sim.noise.bearing_vibration``). The twin's ``VibrationMonitor`` learns the
healthy robot's band energy (20-45 Hz of the vertical specific force: MuJoCo's own dynamics plus the IMU noise), stays
quiet on it, and flags the wear a few seconds after a friction growth is injected. Real MuJoCo, no ROS; the monitor
never reads the fault."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_description import humanoid_urdf
from sigma_ros_common.share import package_share
from sigma_sim.robot_model import load_actuators, load_urdf
from sigma_sim.simulation import SimConfig, Simulation
from sigma_sim.world import load_world
from sigma_twin.core.consistency import VibrationMonitor
from sigma_twin.core.params import ConsistencyParams

IMU_PERIOD = 0.01  # s: the simulator's default IMU rate, 100 Hz
LEARN_S, HEALTHY_S, WORN_S = 20.0, 15.0, 20.0


@pytest.fixture(scope="module")
def sim() -> Simulation:
    share = package_share("sigma_sim")
    robot = load_urdf(humanoid_urdf())
    return Simulation(load_world(share / "worlds" / "warehouse.yaml"), robot,
                      load_actuators(share / "config" / "actuators.yaml", robot.joint_names), ["r1"], SimConfig())


def _run(sim: Simulation, monitor: VibrationMonitor, seconds: float) -> tuple[list[bool], list[float]]:
    steps = round(IMU_PERIOD / sim.dt)
    flags, energies = [], []
    for _ in range(round(seconds / IMU_PERIOD)):
        sim.step(steps)
        _, _, accel = sim.imu("r1")
        monitor.add(sim.time, accel)
        flags.append(monitor.flag)
        energies.append(monitor.energy)
    return flags, energies


def test_bearing_wear_in_the_simulator_raises_the_twins_vibration_alarm(sim: Simulation) -> None:
    monitor = VibrationMonitor(ConsistencyParams(vibration_learn_time=LEARN_S))
    _run(sim, monitor, LEARN_S)
    assert monitor.learnt >= 10
    flags, healthy = _run(sim, monitor, HEALTHY_S)
    assert not any(flags), "a healthy robot must not raise the vibration alarm"
    sim.inject_fault("r1", "friction_growth", "left_knee", 100.0, 0.0)  # 100/h: level 0.5 after 18 s
    flags, worn = _run(sim, monitor, WORN_S)
    assert flags[-1] and monitor.reason()
    first = flags.index(True) * IMU_PERIOD
    print(f"vibration alarm {first:.1f} s after the injection; band energy healthy {np.nanmedian(healthy):.2e}, "
          f"worn (last) {worn[-1]:.2e} (m/s^2)^2, z {monitor.z:.1f}, kurtosis {monitor.kurt:.1f}")
    assert first <= WORN_S - 2.0
    assert worn[-1] > 10.0 * np.nanmedian(healthy)


def test_a_window_with_lost_samples_is_not_judged() -> None:
    """Samples lost on the way (a best-effort reader overrun by an unpaced simulator) leave holes; the spectrum of
    such a window aliases the bearing tone, so the monitor skips it and counts it instead of learning from it."""
    monitor = VibrationMonitor(ConsistencyParams(vibration_samples=128, vibration_learn_time=20.0))
    t = np.arange(0.0, 5.0, IMU_PERIOD)
    tone = 9.81 + 0.3 * np.sin(2 * np.pi * 32.0 * t)
    keep = np.ones(t.size, dtype=bool)
    keep[::7] = False  # one sample in seven lost
    monitor.add_batch(t[keep], tone[keep])
    assert monitor.gapped >= 2 and monitor.learnt == 0
    monitor.add_batch(t + 5.0, tone)  # the same signal, evenly sampled, is learnt
    assert monitor.learnt >= 3 and monitor.gapped >= 2
