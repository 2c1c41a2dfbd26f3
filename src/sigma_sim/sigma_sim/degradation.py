"""Slow degradation faults and per-robot manufacturing spread: the ground truth a digital twin must estimate.

Pure numpy, no MuJoCo and no clock: the same definitions drive the MuJoCo world (``Simulation``) and the unpaced
reduced-order wear model (``sigma_sim.wear``) that runs hours of wear in seconds for the prognostics bench.

A degradation starts at ``onset`` [s] and its level grows as ``rate * h + accel * h**2`` with ``h`` the hours since
onset (``accel`` = 0 for faults injected through the simulator's service). What the level means per kind:

| kind | level means | effect |
|---|---|---|
| ``cooling_loss`` | extra multiple of R_ha | R_ha x (1 + level): a fan or heat-sink path failing |
| ``winding_drift`` | relative rise of R_0 | R_0 x (1 + level): winding/connector resistance drifting up |
| ``friction_growth`` | relative rise of bearing friction | Coulomb and viscous friction x (1 + level) |
| ``capacity_fade`` | lost share of capacity | capacity x (1 - level) |
| ``temp_bias_drift`` | K of winding-sensor bias | the winding temperature reads ``level`` K high |
| ``spoofed_temperature`` | unused (0) | the winding temperature reads a frozen value from onset on |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS: dict[str, str] = {
    "cooling_loss": "R_ha multiplier growth [1/h]",
    "winding_drift": "winding resistance relative growth [1/h]",
    "friction_growth": "bearing friction relative growth [1/h]",
    "capacity_fade": "battery capacity share lost [1/h]",
    "temp_bias_drift": "winding temperature sensor bias growth [K/h]",
    "spoofed_temperature": "unused: the winding temperature reading freezes",
}
JOINT_KINDS = ("cooling_loss", "winding_drift", "friction_growth", "temp_bias_drift", "spoofed_temperature")


@dataclass(frozen=True)
class Degradation:
    """One slow fault: kind, onset [s of simulation time], growth ``rate`` [1/h] and ``accel`` [1/h^2]."""

    kind: str
    onset: float
    rate: float
    accel: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown degradation kind {self.kind!r}; known: {', '.join(KINDS)}")
        if not all(math.isfinite(v) for v in (self.onset, self.rate, self.accel)):
            raise ValueError(f"{self.kind}: onset, rate and accel must be finite")
        if self.rate < 0 or self.accel < 0:
            raise ValueError(f"{self.kind}: rate {self.rate} and accel {self.accel} must be >= 0 (wear only grows)")

    def level(self, t: float | np.ndarray) -> float | np.ndarray:
        """Degradation level at simulation time ``t`` [s] (0 before onset)."""
        h = np.maximum(np.asarray(t, dtype=float) - self.onset, 0.0) / 3600.0
        out = self.rate * h + self.accel * h * h
        return float(out) if np.ndim(out) == 0 else out


def levels(t: float, onset: np.ndarray, rate: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """Vectorised ``Degradation.level`` for many robots at one time ``t``."""
    h = np.maximum(t - onset, 0.0) / 3600.0
    return rate * h + accel * h * h


@dataclass(frozen=True)
class Spread:
    """Multipliers drawn once per robot: how this unit differs from the datasheet (hidden from the twin)."""

    c_winding: np.ndarray
    c_housing: np.ndarray
    r_winding_housing: np.ndarray
    r_housing_ambient: np.ndarray
    winding_resistance: np.ndarray
    friction: np.ndarray
    capacity: float
    internal_resistance: float


def sample_spread(rng: np.random.Generator, n_actuators: int, spread: float = 0.10) -> Spread:
    """Manufacturing spread: each multiplier uniform in [1 - spread, 1 + spread] (capacity: half of it)."""
    if not 0.0 <= spread < 0.5:
        raise ValueError(f"manufacturing spread {spread} not in [0, 0.5)")

    def u(size: int | None = None, width: float = spread):
        return rng.uniform(1.0 - width, 1.0 + width, size)

    n = n_actuators
    return Spread(u(n), u(n), u(n), u(n), u(n), u(n), float(u(width=spread / 2)), float(u()))


def no_spread(n_actuators: int) -> Spread:
    """Every unit exactly on its datasheet."""
    one = np.ones(n_actuators)
    return Spread(one, one, one, one, one, one, 1.0, 1.0)


def sample_degradation(rng: np.random.Generator, kind: str, onset_range_h: tuple[float, float] = (2.0, 10.0),
                       life_range_h: tuple[float, float] = (8.0, 40.0), level_at_life: float = 1.0) -> Degradation:
    """A seeded random degradation: onset uniform in ``onset_range_h``, growth chosen so that ``level_at_life`` is
    reached after a random life (uniform in ``life_range_h``) and a random share of it from the quadratic term."""
    onset = rng.uniform(*onset_range_h) * 3600.0
    life = rng.uniform(*life_range_h)
    quad_share = rng.uniform(0.0, 0.7)
    rate = (1.0 - quad_share) * level_at_life / life
    accel = quad_share * level_at_life / (life * life)
    return Degradation(kind, onset, rate, accel)
