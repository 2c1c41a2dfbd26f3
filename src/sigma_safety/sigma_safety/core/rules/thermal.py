"""Rule 2 — thermal: derate speed and torque linearly between the warning and the limit winding temperature;
shut down at the limit (latched) and count as still hot until cooled below the reset temperature."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_safety.core.model import NOMINAL_OUTPUT, Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param, require

DERATING = 201
SHUTDOWN = 202


@dataclass(frozen=True)
class ThermalParams:
    """Winding temperature thresholds (class F insulation is rated 155 degC; these keep a wide margin)."""

    warning_temperature: float = param(70.0, unit="degC", low=0.0, high=200.0,
                                       description="derating starts above this winding temperature")
    limit_temperature: float = param(90.0, unit="degC", low=0.0, high=200.0,
                                     description="shutdown at or above this winding temperature")
    reset_temperature: float = param(60.0, unit="degC", low=0.0, high=200.0,
                                     description="a shut-down joint counts as hot until it cools below this")

    def __post_init__(self) -> None:
        require(self.reset_temperature < self.warning_temperature < self.limit_temperature,
                "temperatures must satisfy reset_temperature < warning_temperature < limit_temperature")


class ThermalRule:
    """Per-joint derating and latched shutdown with reset hysteresis."""

    name = "thermal"

    def __init__(self, params: ThermalParams) -> None:
        self.params = params
        self.tripped: set[str] = set()

    def scale_for(self, temperature: float) -> float:
        """Allowed speed/torque fraction at ``temperature`` (1 below warning, 0 at the limit)."""
        p = self.params
        if temperature <= p.warning_temperature:
            return 1.0
        return max(0.0, (p.limit_temperature - temperature) / (p.limit_temperature - p.warning_temperature))

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Derate by the hottest joint; report shutdown while any tripped joint is above the reset temperature."""
        act = snap.actuators
        if act is None:
            return NOMINAL_OUTPUT
        p = self.params
        faults: list[Fault] = []
        scale = 1.0
        for name, temp in zip(act.names, act.winding_temperature, strict=True):
            if temp >= p.limit_temperature:
                self.tripped.add(name)
            elif temp < p.reset_temperature:
                self.tripped.discard(name)
            if name in self.tripped:
                scale = 0.0
                faults.append(Fault(SHUTDOWN, self.name, name,
                                    f"{name}: winding {temp:.1f} degC reached limit {p.limit_temperature:.1f}; "
                                    f"cool below {p.reset_temperature:.1f} and reset",
                                    Severity.EMERGENCY_STOP, True, temp, p.limit_temperature))
                continue
            s = self.scale_for(temp)
            if s < 1.0:
                scale = min(scale, s)
                faults.append(Fault(DERATING, self.name, name,
                                    f"{name}: winding {temp:.1f} degC above {p.warning_temperature:.1f}, "
                                    f"derated to {s:.0%}", Severity.WARNING, False, temp, p.warning_temperature))
        return RuleOutput(tuple(faults), speed_scale=scale, torque_scale=scale)
