"""Fault book of the simulator: which faults are injected on which robot, validated, with their expiry."""

from __future__ import annotations

import math
from dataclasses import dataclass

TOPICS = ("joint_states", "imu", "battery_state", "actuator_health", "humans", "odom")

# kind -> (what target names, magnitude range [lo, hi], unit)
KINDS: dict[str, tuple[str, tuple[float, float], str]] = {
    "overheat": ("joint", (0.0, 500.0), "W of extra winding heat; cooling fails (R_ha x10)"),
    "stuck_joint": ("joint", (0.0, 0.0), "unused"),
    "encoder_bias": ("joint", (-math.pi, math.pi), "rad"),
    "encoder_noise": ("joint", (0.0, 1.0), "rad std-dev"),
    "spoofed_sensor": ("topic", (0.0, 50.0), "imu: fake yaw rate [rad/s]; joint_states: fake velocity [rad/s]"),
    "battery_sag": ("none", (0.0, 20.0), "ohm of extra internal resistance"),
    "silent_topic": ("topic", (0.0, 0.0), "unused"),
    "human_approach": ("none", (0.1, 3.0), "walking speed [m/s]"),
    "push": ("none", (0.0, 1000.0), "impulse [N*s] along the base +x axis"),
    # Slow degradation (sigma_sim.degradation): the level grows linearly from injection at `magnitude` per hour.
    "cooling_loss": ("joint", (0.0, 100.0), "R_ha multiplier growth per hour"),
    "winding_drift": ("joint", (0.0, 100.0), "winding resistance relative growth per hour"),
    "friction_growth": ("joint", (0.0, 100.0), "bearing friction relative growth per hour"),
    "capacity_fade": ("none", (0.0, 1.0), "battery capacity share lost per hour"),
    "temp_bias_drift": ("joint", (-100.0, 100.0), "winding temperature sensor bias growth [K/h]"),
    "spoofed_temperature": ("joint", (0.0, 0.0), "unused: the winding temperature reading freezes"),
}
DEGRADATION_KINDS = ("cooling_loss", "winding_drift", "friction_growth", "capacity_fade", "temp_bias_drift",
                     "spoofed_temperature")
SPOOFABLE = ("imu", "joint_states")


class FaultError(ValueError):
    """A fault request that is refused (unknown kind, target or magnitude out of range)."""


@dataclass
class Fault:
    id: str
    kind: str
    robot: str
    target: str
    magnitude: float
    start: float
    end: float  # math.inf = until cleared

    def active(self, now: float) -> bool:
        return self.start <= now < self.end


class FaultBook:
    """Validated injected faults. Time is passed in (simulation seconds)."""

    def __init__(self, joints: list[str]) -> None:
        self.joints = list(joints)
        self.faults: list[Fault] = []
        self._count = 0

    def inject(self, robot: str, kind: str, target: str, magnitude: float, duration: float, now: float) -> Fault:
        """Validate and record a fault; raise FaultError saying what is wrong."""
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        what, (lo, hi), unit = KINDS[kind]
        if not (math.isfinite(magnitude) and math.isfinite(duration)):
            raise FaultError(f"{kind}: magnitude and duration must be finite")
        if duration < 0:
            raise FaultError(f"{kind}: duration {duration} s is negative")
        if lo != hi and not lo <= magnitude <= hi:
            raise FaultError(f"{kind}: magnitude {magnitude} out of [{lo}, {hi}] ({unit})")
        if what == "joint" and target not in self.joints:
            raise FaultError(f"{kind}: unknown joint {target!r}")
        if what == "topic":
            allowed = SPOOFABLE if kind == "spoofed_sensor" else TOPICS
            if target not in allowed:
                raise FaultError(f"{kind}: target topic {target!r} not one of {', '.join(allowed)}")
        self._count += 1
        end = now + duration if duration > 0 else math.inf
        fault = Fault(f"{robot}-{kind}-{self._count}", kind, robot, target, float(magnitude), now, end)
        self.faults.append(fault)
        return fault

    def active(self, robot: str, kind: str, now: float) -> list[Fault]:
        return [f for f in self.faults if f.robot == robot and f.kind == kind and f.active(now)]

    def expire(self, now: float) -> list[Fault]:
        """Drop and return faults whose duration has passed."""
        done = [f for f in self.faults if now >= f.end]
        self.faults = [f for f in self.faults if now < f.end]
        return done
