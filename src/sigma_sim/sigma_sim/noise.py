"""Sensor noise models driven by a seeded numpy Generator (deterministic for a given seed).

The IMU bias is a first-order Gauss-Markov process (exponentially correlated, the usual MEMS model), so it wanders
but stays bounded: its steady-state standard deviation is ``bias_std`` whatever the run length, unlike a random walk
whose spread grows with the square root of time. Odometry gets white noise on pose and twist; the covariances the
node publishes are these variances, so consumers (robot_localization, Nav2) weigh the data as noisy as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class GaussMarkovNoise:
    """White noise plus a first-order Gauss-Markov bias, per axis.

    bias(t + dt) = exp(-dt/tau) * bias(t) + bias_std * sqrt(1 - exp(-2 dt/tau)) * w,  w ~ N(0, 1)
    """

    white_std: float
    bias_std: float  # steady-state standard deviation of the bias
    tau: float = 300.0  # correlation time [s]
    size: int = 3

    def __post_init__(self) -> None:
        if self.white_std < 0 or self.bias_std < 0 or self.tau <= 0:
            raise ValueError(f"noise needs white_std >= 0, bias_std >= 0, tau > 0; got {self.white_std}, "
                             f"{self.bias_std}, {self.tau}")
        self.bias = np.zeros(self.size)

    def _step_bias(self, draw: np.ndarray, dt: float) -> None:
        if self.bias_std > 0.0 and dt > 0.0:
            a = math.exp(-dt / self.tau)
            self.bias = a * self.bias + draw * (self.bias_std * math.sqrt(1.0 - a * a))

    def sample_with(self, draws: np.ndarray, dt: float) -> np.ndarray:
        """Noise from two rows of standard-normal ``draws`` (bias step, white noise): one RNG call per reading."""
        self._step_bias(draws[0], dt)
        return self.bias + draws[1] * self.white_std

    def sample(self, rng: np.random.Generator, dt: float) -> np.ndarray:
        """Noise to add to one reading taken ``dt`` seconds after the previous one."""
        return self.sample_with(rng.standard_normal((2, self.size)), dt)


@dataclass(frozen=True)
class ImuNoiseConfig:
    gyro_std: float = 0.002  # rad/s, white
    gyro_bias_std: float = 0.005  # rad/s, steady-state bias spread
    accel_std: float = 0.02  # m/s^2, white
    accel_bias_std: float = 0.02  # m/s^2
    bias_tau: float = 300.0  # s, bias correlation time


class ImuNoise:
    """Gyro and accelerometer noise of one IMU."""

    def __init__(self, cfg: ImuNoiseConfig) -> None:
        self.gyro = GaussMarkovNoise(cfg.gyro_std, cfg.gyro_bias_std, cfg.bias_tau)
        self.accel = GaussMarkovNoise(cfg.accel_std, cfg.accel_bias_std, cfg.bias_tau)

    def apply(self, rng: np.random.Generator, gyro: np.ndarray, accel: np.ndarray, dt: float):
        draws = rng.standard_normal((4, 3))
        return gyro + self.gyro.sample_with(draws[:2], dt), accel + self.accel.sample_with(draws[2:], dt)


BEARING_DEFECT_HZ = 32.0  # a bearing's defect frequency as the torso IMU sees it (inside the twin's 20-45 Hz band)
BEARING_VIBRATION = 0.3  # m/s^2 of defect-frequency tone per unit of friction-growth level (friction x (1 + level))
BEARING_IMPACT_RATE = 0.02  # share of IMU samples that carry a rolling-element impact (impulsive: high kurtosis)


def bearing_vibration(rng: np.random.Generator, t: float, level: float) -> np.ndarray:
    """Specific force [m/s^2, IMU frame] a worn bearing adds at time ``t`` [s]: a tone at its defect frequency and
    sparse impacts, both growing with the wear ``level`` (sigma_sim.degradation's friction_growth level)."""
    a = BEARING_VIBRATION * level
    z = a * math.sin(2.0 * math.pi * BEARING_DEFECT_HZ * t)
    if rng.random() < BEARING_IMPACT_RATE:
        z += 4.0 * a * rng.standard_normal()
    return np.array([0.0, 0.0, z])


@dataclass(frozen=True)
class OdometryNoiseConfig:
    """White noise of the odometry (standard deviations); pose noise is per reading, it does not drift."""

    position_std: float = 0.005  # m, x/y/z
    orientation_std: float = 0.002  # rad, roll/pitch/yaw
    linear_std: float = 0.01  # m/s
    angular_std: float = 0.005  # rad/s

    def pose_covariance(self) -> np.ndarray:
        """Row-major 6x6 covariance of (x, y, z, rotation about x, y, z), as nav_msgs/Odometry wants it."""
        return np.diag([self.position_std**2] * 3 + [self.orientation_std**2] * 3).ravel()

    def twist_covariance(self) -> np.ndarray:
        """Row-major 6x6 covariance of (vx, vy, vz, wx, wy, wz)."""
        return np.diag([self.linear_std**2] * 3 + [self.angular_std**2] * 3).ravel()


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (w, x, y, z) quaternions."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


class OdometryNoise:
    """Adds the configured white noise to one odometry reading."""

    def __init__(self, cfg: OdometryNoiseConfig) -> None:
        self.cfg = cfg

    def apply(self, rng: np.random.Generator, pos: np.ndarray, quat_wxyz: np.ndarray, lin: np.ndarray,
              ang: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(position, orientation w,x,y,z, linear, angular) with noise; the orientation stays a unit quaternion."""
        c = self.cfg
        d = rng.standard_normal((4, 3))
        half = 0.5 * d[1] * c.orientation_std  # small rotation vector, applied in the body frame
        dq = np.array([1.0, *half])
        q = _quat_mul(quat_wxyz, dq / np.linalg.norm(dq))
        return pos + d[0] * c.position_std, q / np.linalg.norm(q), lin + d[2] * c.linear_std, ang + d[3] * c.angular_std
