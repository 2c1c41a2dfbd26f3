"""Battery/energy model: Li-ion pack with an open-circuit-voltage curve and internal resistance.

Electrical load of a robot = sum over motors of max(tau*omega + I^2 R, 0) (no regeneration: the drives dump it in a
brake resistor) + idle electronics + base locomotion. The pack delivers P = V_term * I with V_term = OCV(soc) - I R_int.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# 14S Li-ion: state of charge -> open circuit voltage of the pack [V]
SOC_POINTS = np.array([0.0, 0.05, 0.10, 0.20, 0.40, 0.60, 0.80, 0.90, 1.0])
OCV_POINTS = 14 * np.array([3.00, 3.30, 3.45, 3.55, 3.68, 3.80, 3.95, 4.05, 4.18])


def open_circuit_voltage(soc: float) -> float:
    """Pack open-circuit voltage at a state of charge in [0, 1]."""
    return float(np.interp(min(max(soc, 0.0), 1.0), SOC_POINTS, OCV_POINTS))


@dataclass
class BatteryModel:
    """One robot's battery. Time is passed in through ``step``."""

    capacity_ah: float = 15.0
    internal_resistance: float = 0.08  # ohm
    soc: float = 1.0
    extra_resistance: float = 0.0  # ohm, the battery_sag fault
    current: float = 0.0  # A, positive = discharge
    voltage: float = field(default=0.0)
    energy_delivered: float = 0.0  # J at the terminals (what the robot drew)
    charge_drawn: float = 0.0  # C

    def __post_init__(self) -> None:
        self.voltage = open_circuit_voltage(self.soc)

    @property
    def resistance(self) -> float:
        return self.internal_resistance + self.extra_resistance

    @property
    def charging(self) -> bool:
        return self.current < 0.0

    def step(self, power: float, dt: float) -> None:
        """Deliver ``power`` [W] for ``dt`` seconds (negative = net charging, from a dock); update current,
        terminal voltage and state of charge. ``energy_delivered`` is the net energy out of the pack."""
        ocv = open_circuit_voltage(self.soc)
        r = self.resistance
        if power < 0.0:  # charging: constant power in, the terminal voltage rises above OCV
            current = (-ocv + math.sqrt(ocv * ocv - 4.0 * r * power)) / (2.0 * r) if r > 0 else -power / ocv
            self.current = -current
            self.voltage = ocv + current * r
            self.energy_delivered += power * dt
            self.charge_drawn -= current * dt
            self.soc = min(1.0, self.soc + current * dt / (self.capacity_ah * 3600.0))
            return
        disc = ocv * ocv - 4.0 * r * power
        if disc < 0.0:  # the pack cannot deliver that power: it browns out at maximum power transfer
            current = ocv / (2.0 * r)
            power = ocv * current - current * current * r
        else:
            current = (ocv - math.sqrt(disc)) / (2.0 * r) if r > 0 else power / ocv
        self.current = current
        self.voltage = ocv - current * r
        self.energy_delivered += power * dt
        self.charge_drawn += current * dt
        self.soc = max(0.0, self.soc - current * dt / (self.capacity_ah * 3600.0))


def motor_power(tau: np.ndarray, omega: np.ndarray, current: np.ndarray, resistance: np.ndarray) -> np.ndarray:
    """Electrical input power per motor [W]: mechanical tau*omega plus copper loss I^2 R, no regeneration."""
    return np.maximum(tau * omega + current * current * resistance, 0.0)
