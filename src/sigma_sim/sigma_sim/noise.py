"""Sensor noise models driven by a seeded numpy Generator (deterministic for a given seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GaussMarkovNoise:
    """White noise plus a slowly wandering bias (random walk), per axis: the usual MEMS IMU model."""

    white_std: float
    bias_walk_std: float  # per sqrt(s)
    size: int = 3

    def __post_init__(self) -> None:
        self.bias = np.zeros(self.size)

    def sample_with(self, draws: np.ndarray, dt: float) -> np.ndarray:
        """Noise from two rows of standard-normal ``draws`` (bias step, white noise): one RNG call per reading."""
        if self.bias_walk_std > 0.0:
            self.bias = self.bias + draws[0] * (self.bias_walk_std * np.sqrt(max(dt, 0.0)))
        return self.bias + draws[1] * self.white_std

    def sample(self, rng: np.random.Generator, dt: float) -> np.ndarray:
        """Noise to add to one reading taken ``dt`` seconds after the previous one."""
        if self.bias_walk_std > 0.0:
            self.bias = self.bias + rng.normal(0.0, self.bias_walk_std * np.sqrt(max(dt, 0.0)), self.size)
        return self.bias + rng.normal(0.0, self.white_std, self.size)


@dataclass(frozen=True)
class ImuNoiseConfig:
    gyro_std: float = 0.002  # rad/s
    gyro_bias_walk: float = 0.0005
    accel_std: float = 0.02  # m/s^2
    accel_bias_walk: float = 0.002


class ImuNoise:
    """Gyro and accelerometer noise of one IMU."""

    def __init__(self, cfg: ImuNoiseConfig) -> None:
        self.gyro = GaussMarkovNoise(cfg.gyro_std, cfg.gyro_bias_walk)
        self.accel = GaussMarkovNoise(cfg.accel_std, cfg.accel_bias_walk)

    def apply(self, rng: np.random.Generator, gyro: np.ndarray, accel: np.ndarray, dt: float):
        draws = rng.standard_normal((4, 3))
        return gyro + self.gyro.sample_with(draws[:2], dt), accel + self.accel.sample_with(draws[2:], dt)
