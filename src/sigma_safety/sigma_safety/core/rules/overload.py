"""Rule 1 — motor overload cutoff: peak effort cuts at once; sustained effort above the continuous rating is
integrated as I²t (per-unit effort squared over time) and cuts when the budget is spent. Above ``warning_fraction`` of
the budget the drives' torque is capped at the continuous rating (the gate's ``driver/torque_limit``), where the
integral stops growing, until it has cooled below ``release_fraction`` (hysteresis: no chatter at the threshold)."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_safety.core.model import NOMINAL_OUTPUT, Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param, require
from sigma_safety.core.urdf import JointLimit

PEAK_EFFORT = 101
I2T_EXCEEDED = 102
I2T_WARNING = 103


@dataclass(frozen=True)
class OverloadParams:
    """Ratings relative to the URDF ``effort`` limit, which is the actuator's peak rating."""

    peak_margin: float = param(1.0, unit="x peak effort", low=0.5, high=2.0,
                               description="effort above peak_margin * URDF effort cuts immediately")
    continuous_ratio: float = param(0.5, unit="x peak effort", low=0.05, high=1.0,
                                    description="continuous rating as a fraction of the peak rating")
    i2t_budget: float = param(2.0, unit="s (per-unit effort)^2", low=0.01, high=100.0,
                              description="thermal budget: integral of (e/peak)^2 - ratio^2 over time before cut")
    warning_fraction: float = param(0.8, unit="fraction of budget", low=0.1, high=1.0,
                                    description="above this share of the budget, torque is capped at continuous rating")
    release_fraction: float = param(0.6, unit="fraction of budget", low=0.0, high=1.0,
                                    description="a torque cap holds until the integral is back below this share")
    max_step: float = param(0.5, unit="s", low=0.001, high=5.0,
                            description="longest interval integrated at once (guards against gaps in evaluation)")

    def __post_init__(self) -> None:
        require(self.continuous_ratio < self.peak_margin, "continuous_ratio must be below peak_margin")
        require(self.release_fraction < self.warning_fraction, "release_fraction must be below warning_fraction")


class OverloadRule:
    """Effort limits per joint; the I²t state cools down (decreases) while effort is below the continuous rating."""

    name = "overload"

    def __init__(self, params: OverloadParams, limits: dict[str, JointLimit]) -> None:
        self.params = params
        self.limits = limits
        self.accumulated: dict[str, float] = {}
        self.capped: set[str] = set()  # joints whose I²t holds the torque cap (until below release_fraction)
        self._last: float | None = None

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Integrate I²t since the last call and report peak/I²t violations."""
        p = self.params
        dt = 0.0 if self._last is None else min(max(now - self._last, 0.0), p.max_step)
        self._last = now
        joints = snap.joints
        if joints is None:
            return NOMINAL_OUTPUT
        faults: list[Fault] = []
        torque = 1.0
        for name, effort in zip(joints.names, joints.effort, strict=True):
            lim = self.limits.get(name)
            if lim is None:
                continue
            x = abs(effort) / lim.effort
            acc = max(0.0, self.accumulated.get(name, 0.0) + (x * x - p.continuous_ratio**2) * dt)
            self.accumulated[name] = acc
            if x > p.peak_margin:
                faults.append(Fault(PEAK_EFFORT, self.name, name,
                                    f"{name}: effort {abs(effort):.1f} N·m above peak {p.peak_margin * lim.effort:.1f}",
                                    Severity.EMERGENCY_STOP, True, abs(effort), p.peak_margin * lim.effort))
            if acc > p.i2t_budget:
                faults.append(Fault(I2T_EXCEEDED, self.name, name,
                                    f"{name}: I²t {acc:.2f} above budget {p.i2t_budget:.2f}",
                                    Severity.EMERGENCY_STOP, True, acc, p.i2t_budget))
            elif acc > p.warning_fraction * p.i2t_budget or (name in self.capped and
                                                             acc >= p.release_fraction * p.i2t_budget):
                self.capped.add(name)
                torque = min(torque, p.continuous_ratio)
                faults.append(Fault(I2T_WARNING, self.name, name,
                                    f"{name}: I²t {acc:.2f} at {acc / p.i2t_budget:.0%} of budget, torque capped at "
                                    f"{p.continuous_ratio:.0%} until below {p.release_fraction:.0%}",
                                    Severity.WARNING, False, acc, p.warning_fraction * p.i2t_budget))
            else:
                self.capped.discard(name)
        return RuleOutput(tuple(faults), torque_scale=torque)
