"""Scripted warehouse tasks for the demo, standing in for the cognition pipeline (sigma_core is not built yet).

Pure functions of time: a base shuttle between two points and a slow arm motion. They produce the *intent*; the
safety gate decides what reaches the actuators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ARM_JOINTS = ("left_shoulder_pitch", "right_shoulder_pitch", "left_elbow", "right_elbow")


@dataclass(frozen=True)
class Shuttle:
    """Drive forward then back along the robot's x axis: ``speed`` [m/s] for ``leg`` [s] each way."""

    speed: float = 0.3
    leg: float = 4.0

    def velocity(self, t: float) -> float:
        """Forward base velocity [m/s] at time ``t`` [s] since the task started."""
        if t < 0:
            return 0.0
        return self.speed if int(t // self.leg) % 2 == 0 else -self.speed


@dataclass(frozen=True)
class ArmSwing:
    """Swing the arms like carrying a tote: amplitude [rad] around a neutral pose, period [s]."""

    amplitude: float = 0.4
    period: float = 4.0

    def targets(self, t: float) -> dict[str, float]:
        phase = math.sin(2.0 * math.pi * max(t, 0.0) / self.period)
        return {
            "left_shoulder_pitch": -0.3 + self.amplitude * phase,
            "right_shoulder_pitch": -0.3 - self.amplitude * phase,
            "left_elbow": -0.6 + 0.5 * self.amplitude * phase,
            "right_elbow": -0.6 - 0.5 * self.amplitude * phase,
        }
