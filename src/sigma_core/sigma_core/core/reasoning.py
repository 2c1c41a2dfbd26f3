"""Reasoning: the constraints the current situation puts on the plan, each with its reason.

A degraded (hot) motor lowers the payload the robot accepts; a person nearby lowers the planning speed (on top of
what the safety supervisor enforces — the plan slows before safety must); a low battery means charge first; the
adopted fleet model classifying the robot's recent telemetry as a fault class (a fault other robots reported, which
this robot may never have seen) derates the planning speed for ``fleet_fault_hold`` after the latest such verdict; a
robot whose route no other robot takes any more (its mesh relay died: the others cannot see where it goes) derates it
too, until one does again.
These shape the plan; they never widen what safety allows (the gate enforces that regardless).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_core.core.perception import WorldState
from sigma_ros_common.params import param, require


@dataclass(frozen=True)
class ReasoningParams:
    """Thresholds of the situation constraints."""

    nominal_payload: float = param(12.0, unit="kg", low=0.0, high=100.0,
                                   description="payload the robot carries with healthy motors")
    warm_winding: float = param(60.0, unit="degC", low=20.0, high=200.0,
                                description="hottest winding above this derates the payload linearly")
    hot_winding: float = param(75.0, unit="degC", low=20.0, high=200.0,
                               description="hottest winding at or above this: no payload accepted")
    human_slow_distance: float = param(3.0, unit="m", low=0.0, high=20.0,
                                       description="a person closer than this slows the plan")
    human_speed: float = param(0.3, unit="m/s", low=0.0, high=2.0,
                               description="planning speed limit while a person is that close")
    low_battery: float = param(0.2, unit="1", low=0.0, high=1.0,
                               description="below this state of charge new work is refused: charge first")
    twin_max_risk: float = param(0.5, unit="1", low=0.0, high=1.0,
                                 description="twin failure risk above which new work is refused")
    fleet_fault_speed: float = param(0.3, unit="m/s", low=0.0, high=2.0,
                                     description="planning speed limit while the adopted fleet model classifies the "
                                                 "recent telemetry as a fault class")
    unheard_after: float = param(3.0, unit="s", low=0.0, high=600.0,
                                 description="once other robots took this robot's route (its mesh relay, or their "
                                             "cores on a shared graph), none doing so for this long derates the plan "
                                             "speed: the others no longer see where it goes")
    unheard_speed: float = param(0.3, unit="m/s", low=0.0, high=2.0,
                                 description="planning speed limit while no other robot takes this robot's route")
    fleet_fault_hold: float = param(30.0, unit="s", low=0.1, high=3600.0,
                                    description="the derate lasts this long after the latest fault verdict (the "
                                                "fleet model recognises a fault's onset; a normal verdict does not "
                                                "end it sooner)")

    def __post_init__(self) -> None:
        require(self.hot_winding > self.warm_winding, "hot_winding must be above warm_winding")


@dataclass(frozen=True)
class Constraints:
    """What the plan must respect now."""

    speed_limit: float               # [m/s] planning speed limit (before the safety gate's own scaling)
    payload_limit: float             # [kg]
    charge_first: bool               # refuse new work other than docking
    refuse_new_work: str             # non-empty: why new work (other than docking/hold) is refused
    reasons: tuple[str, ...]
    fleet_fault: str = ""            # non-empty: the fault class of the fresh fleet model verdict acted on


def constrain(params: ReasoningParams, world: WorldState, max_speed: float) -> Constraints:
    """Constraints for this world state; ``max_speed`` is the tracker's nominal cruise speed."""
    reasons = []
    speed = max_speed
    d = world.nearest_human
    if d < params.human_slow_distance:
        speed = min(speed, params.human_speed)
        reasons.append(f"person at {d:.1f} m < {params.human_slow_distance} m: plan speed {speed:.2f} m/s")
    fleet_fault = world.fleet_fault if world.fleet_fault_age <= params.fleet_fault_hold else ""
    if fleet_fault:
        speed = min(speed, params.fleet_fault_speed)
        reasons.append(f"fleet model classifies the recent telemetry as {fleet_fault}: plan speed {speed:.2f} m/s")
    if world.route_unheard > params.unheard_after:
        speed = min(speed, params.unheard_speed)
        reasons.append(f"no other robot has taken this robot's route for {world.route_unheard:.0f} s (mesh relay "
                       f"gone?): plan speed {speed:.2f} m/s")
    payload = params.nominal_payload
    t = world.hottest_winding
    if math.isfinite(t) and t > params.warm_winding:
        frac = max(0.0, 1.0 - (t - params.warm_winding) / (params.hot_winding - params.warm_winding))
        payload = params.nominal_payload * frac
        reasons.append(f"{world.hottest_joint} winding {t:.0f} degC > {params.warm_winding:.0f}: payload limit "
                       f"{payload:.1f} kg")
    if world.safety is not None and world.safety.level == 1 and world.safety.speed_scale < 1.0:
        reasons.append(f"safety derates speed to {world.safety.speed_scale:.2f}")
    charge_first = math.isfinite(world.battery_soc) and world.battery_soc < params.low_battery
    refuse = ""
    if charge_first:
        refuse = f"battery {world.battery_soc:.0%} below {params.low_battery:.0%}: charge first"
        reasons.append(refuse)
    if math.isfinite(world.twin_risk) and world.twin_risk > params.twin_max_risk:
        refuse = refuse or f"twin forecasts failure risk {world.twin_risk:.2f} > {params.twin_max_risk}"
        reasons.append(f"twin risk {world.twin_risk:.2f}")
    return Constraints(speed, payload, charge_first, refuse, tuple(reasons), fleet_fault)
