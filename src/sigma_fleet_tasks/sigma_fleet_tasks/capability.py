"""What a robot can take on now, from its own topics, as the leader's cost model needs it (pure; no rclpy).

A robot folds its battery (``sensor_msgs/BatteryState``), its executor's payload limit (``TaskStatus.payload_limit``,
derated by motor health), the digital twin's report (``TwinHealth``: a degraded motor, a maintenance window coming,
a motor the twin forecasts heating towards its limit - dominant mode ``thermal``) and its safety level
(``SafetyEvent.level`` on ``safety/events``) into a `Capability`, sends it in its task snapshot over the mesh
(compact keys, see `Capability.to_wire`), and the leader turns it into the ``RobotState`` of
sigma_tasks' cost model.
Times are passed in (wall-clock seconds, as leases are).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sigma_tasks.cost import RobotState

# SafetyStatus levels (sigma_interfaces/SafetyStatus.msg)
LEVEL_PROTECTIVE_STOP = 2
LEVEL_EMERGENCY_STOP = 3


@dataclass(frozen=True)
class CapabilityParams:
    """How measurements become capability. SI units."""

    nominal_voltage_v: float = 51.8  # the pack's nominal voltage (14S Li-ion, 3.7 V per cell): Ah -> Wh
    default_capacity_wh: float = 777.0  # used until a BatteryState arrives (15 Ah x 51.8 V)
    default_payload_kg: float = 20.0  # until the executor reports its payload limit
    degraded_health: float = 0.5  # an actuator whose health index is below this is a degraded motor
    degraded_risk: float = 0.5  # ... or whose risk (within the twin's horizon) is at least this
    hot_risk: float = 0.5  # an actuator whose dominant failure mode is thermal at this risk is hot: no task at all


@dataclass(frozen=True)
class Capability:
    """A robot's capability as the leader sees it. ``None`` where the robot has not measured it yet."""

    battery_wh: float | None = None
    capacity_wh: float | None = None
    payload_kg: float | None = None
    degraded: bool = False
    degraded_why: str = ""
    maintenance_at: float | None = None  # wall-clock start of the next maintenance window
    stopped: bool = False  # protective or emergency stop
    hot: str = ""  # why a motor is hot ("" = none): the robot takes no new task until it cooled down

    def to_wire(self) -> dict:
        """Compact JSON for the mesh snapshot (its 768-byte limit): only what is known."""
        out: dict = {}
        if self.battery_wh is not None and self.capacity_wh is not None:
            out["wh"] = [round(self.battery_wh, 1), round(self.capacity_wh, 1)]
        if self.payload_kg is not None:
            out["kg"] = round(self.payload_kg, 2)
        if self.degraded:
            out["deg"] = self.degraded_why[:60] or "degraded"
        if self.maintenance_at is not None:
            out["mw"] = round(self.maintenance_at, 1)
        if self.stopped:
            out["stop"] = 1
        if self.hot:
            out["hot"] = self.hot[:60]
        return out

    @classmethod
    def from_wire(cls, data: object) -> Capability:
        """The leader's side; ValueError for a malformed entry (names the field)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("cap: not an object")
        wh = data.get("wh")
        battery = capacity = None
        if wh is not None:
            if not (isinstance(wh, list) and len(wh) == 2):
                raise ValueError("cap.wh: expected [battery_wh, capacity_wh]")
            battery, capacity = _finite("cap.wh[0]", wh[0], 0.0), _finite("cap.wh[1]", wh[1], 0.0)
            if capacity <= 0.0:
                raise ValueError("cap.wh[1]: capacity must be > 0")
        kg = data.get("kg")
        mw = data.get("mw")
        return cls(battery_wh=battery, capacity_wh=capacity,
                   payload_kg=None if kg is None else _finite("cap.kg", kg, 0.0),
                   degraded="deg" in data, degraded_why=str(data.get("deg", ""))[:60],
                   maintenance_at=None if mw is None else _finite("cap.mw", mw, None),
                   stopped=bool(data.get("stop")), hot=str(data.get("hot") or "")[:60])


def _finite(name: str, value: object, low: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: not a finite number: {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name}: {value} below {low}")
    return float(value)


def battery_energy(percentage: float, charge_ah: float, capacity_ah: float, p: CapabilityParams
                   ) -> tuple[float, float] | None:
    """(energy left, capacity) in Wh from a BatteryState's fields; None when it does not say (NaN, zero)."""
    if math.isfinite(capacity_ah) and capacity_ah > 0.0:
        capacity_wh = capacity_ah * p.nominal_voltage_v
        if math.isfinite(charge_ah) and charge_ah >= 0.0:
            return min(charge_ah, capacity_ah) * p.nominal_voltage_v, capacity_wh
        if math.isfinite(percentage) and 0.0 <= percentage <= 1.0:
            return percentage * capacity_wh, capacity_wh
        return None
    if math.isfinite(percentage) and 0.0 <= percentage <= 1.0:
        return percentage * p.default_capacity_wh, p.default_capacity_wh
    return None


def motor_risk(actuators: Iterable[tuple[str, float, float]], p: CapabilityParams) -> str:
    """Why the twin's report makes this a degraded motor ("" = it does not): (name, health, risk) per actuator;
    NaN (not enough history yet) is no evidence either way."""
    worst = ""
    for name, health, risk in actuators:
        if math.isfinite(health) and health < p.degraded_health:
            return f"{name} health {health:.2f}"
        if math.isfinite(risk) and risk >= p.degraded_risk and not worst:
            worst = f"{name} risk {risk:.2f}"
    return worst


def motor_heat(actuators: Iterable[tuple[str, float, float]], modes: Mapping[str, str], p: CapabilityParams) -> str:
    """Why the twin's report makes a motor hot ("" = none): an actuator whose dominant failure mode is thermal with
    a risk of at least ``hot_risk`` (the twin's winding-temperature forecast); NaN is no evidence."""
    for name, _health, risk in actuators:
        if modes.get(name) == "thermal" and math.isfinite(risk) and risk >= p.hot_risk:
            return f"{name} thermal risk {risk:.2f}"
    return ""


@dataclass
class CapabilityTracker:
    """The robot's side: the latest measurements. A value stays until a newer one replaces it (a battery does not
    recharge and a motor does not heal by falling silent)."""

    params: CapabilityParams = CapabilityParams()
    battery: tuple[float, float] | None = None
    payload_kg: float | None = None
    degraded_why: str = ""
    hot_why: str = ""
    maintenance_at: float | None = None
    safety_level: int = 0

    def on_battery(self, percentage: float, charge_ah: float, capacity_ah: float) -> None:
        energy = battery_energy(percentage, charge_ah, capacity_ah, self.params)
        if energy is not None:
            self.battery = energy

    def on_payload_limit(self, kg: float) -> None:
        """The executor's limit; NaN (unknown) and 0 (a TaskStatus left at its default) are not a report."""
        if math.isfinite(kg) and kg > 0.0:
            self.payload_kg = kg

    def on_twin(self, actuators: Iterable[tuple[str, float, float]], window_in_s: float | None, *, now: float,
                modes: Mapping[str, str] | None = None) -> None:
        """The twin's report: per actuator (name, health, risk) and its dominant failure mode (``modes``: name ->
        thermal | friction | sensor_bias); the next window's start relative to the report (seconds from its stamp,
        None = no window), so the robot's and the twin's clock bases need not agree."""
        actuators = list(actuators)
        self.degraded_why = motor_risk(actuators, self.params)
        self.hot_why = motor_heat(actuators, modes or {}, self.params)
        self.maintenance_at = None if window_in_s is None else now + max(window_in_s, 0.0)

    def on_safety(self, level: int) -> None:
        self.safety_level = int(level)

    @property
    def emergency(self) -> bool:
        return self.safety_level >= LEVEL_EMERGENCY_STOP

    @property
    def stopped(self) -> bool:
        return self.safety_level >= LEVEL_PROTECTIVE_STOP

    def current(self) -> Capability:
        energy = self.battery or (None, None)
        return Capability(battery_wh=energy[0], capacity_wh=energy[1], payload_kg=self.payload_kg,
                          degraded=bool(self.degraded_why), degraded_why=self.degraded_why,
                          maintenance_at=self.maintenance_at, stopped=self.stopped, hot=self.hot_why)


def robot_state(robot_id: str, position: tuple[float, float], cap: Capability, *, queue_len: int,
                params: CapabilityParams) -> RobotState:
    """The leader's side: a member's capability as sigma_tasks' RobotState (defaults where it measured nothing:
    a full battery of the default pack, the default payload limit). A stopped or hot robot is not available."""
    capacity = cap.capacity_wh if cap.capacity_wh is not None else params.default_capacity_wh
    battery = cap.battery_wh if cap.battery_wh is not None else capacity
    return RobotState(robot_id, position, battery_wh=min(battery, capacity), capacity_wh=capacity,
                      max_payload_kg=cap.payload_kg if cap.payload_kg is not None else params.default_payload_kg,
                      queue_len=queue_len, available=not (cap.stopped or cap.hot), degraded=cap.degraded,
                      maintenance_at=cap.maintenance_at)
