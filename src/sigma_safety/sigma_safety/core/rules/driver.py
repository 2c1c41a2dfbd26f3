"""Rule 9 — driver integrity: the drives do what the gate commands, and only the gate commands them.

Defence in depth against anything that reaches the driver behind the gate's back (another process on the robot's
graph publishing ``driver/*`` or ``safety/status``, a released brake):
- a publisher of a command topic other than the expected node (graph introspection, fed by the node), or a
  message on ``driver/*`` that the gate did not send (seen by the gate itself, within milliseconds) → 903;
- the driver reports its brake released (``brake_state``) after it had reported it applied while the safety state
  still commands it (released behind the gate) → 902. A driver slow to apply the brake is not judged by a deadline:
  a loaded simulator took over a second just to start listening, and a brake that never engages shows as motion.
- measured motion picking up while braked: from the driver's report that the brakes hold (``brake_state``), the
  base speed (odometry) rising ``max_base_speed`` above the lowest it has been since, or the fastest joint rising
  ``max_joint_speed`` above its lowest → 901. Judged by the rise, not by a deadline, and only once the driver says
  it brakes: on an overloaded machine a lagging simulator still executes commands from before the stop for a while
  (a first version judged any stop after a fixed settle time and tripped on that in the main scenario).
All three are latched emergency stops: something moves or commands the robot that the safety layer does not control,
and a person has to look before it runs again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_safety.core.model import Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param

MOTION_WHILE_STOPPED = 901
BRAKE_NOT_APPLIED = 902
FOREIGN_PUBLISHER = 903
FOREIGN_COMMAND_HOLD = 1.0  # [s] a command the gate did not send counts as active this long after it was seen


@dataclass(frozen=True)
class DriverParams:
    """Bounds of the driver-integrity checks."""

    max_base_speed: float = param(0.3, unit="m/s", low=0.01, high=5.0,
                                  description="while the driver reports the brake applied, odometry speed rising "
                                              "this far above its lowest since then is a fault")
    max_joint_speed: float = param(0.5, unit="rad/s", low=0.01, high=50.0,
                                   description="while the driver reports the brake applied, a joint speed rising "
                                               "this far above the lowest since then is a fault")
    graph_period: float = param(0.5, unit="s", low=0.05, high=10.0,
                                description="period of the check for foreign publishers of driver/* and safety/status")


class DriverRule:
    """Motion while stopped, brake not applied, foreign publishers of the gate's and supervisor's topics."""

    name = "driver_integrity"

    def __init__(self, params: DriverParams) -> None:
        self.params = params
        self._confirmed = False  # the driver has reported the brake applied since it was commanded
        self._base_low: float | None = None  # lowest base speed since the stop began
        self._joint_low: float | None = None  # lowest fastest-joint speed since the brake was commanded

    def _fault(self, code: int, source: str, cause: str, value: float, limit: float) -> Fault:
        return Fault(code, self.name, source, cause, Severity.EMERGENCY_STOP, True, value, limit)

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Check the latest odometry, joint and brake reports against what the safety state commands."""
        faults: list[Fault] = []
        for topic, names in sorted(snap.foreign_publishers.items()):
            if names:
                faults.append(self._fault(FOREIGN_PUBLISHER, topic, f"{topic} is also published by "
                                          f"{', '.join(names)}: only the safety layer may publish it",
                                          float(len(names)), 0.0))
        for topic, (what, seen) in sorted(snap.foreign_commands.items()):
            if now - seen <= FOREIGN_COMMAND_HOLD:  # the same fault key as a graph finding on that topic
                faults.append(self._fault(FOREIGN_PUBLISHER, topic, f"{topic}: {what} that the gate did not send: "
                                          "another publisher drives the robot", 1.0, 0.0))
        self._motion(snap, faults)
        self._brake(snap, faults)
        return RuleOutput(tuple(faults), speed_scale=0.0 if faults else 1.0)

    def _motion(self, snap: Snapshot, faults: list[Fault]) -> None:
        p = self.params
        held = snap.brake_report  # judged only while the driver reports the brakes holding, from its report on
        if snap.brake_since is None or held is None or not held.applied:
            self._base_low = self._joint_low = None
            return
        since = max(snap.brake_since, held.received)
        if snap.odom is not None and snap.odom.received > since:
            speed = math.hypot(snap.odom.vx, snap.odom.vy)
            self._base_low = speed if self._base_low is None else min(self._base_low, speed)
            if speed > self._base_low + p.max_base_speed:
                faults.append(self._fault(MOTION_WHILE_STOPPED, "odom", f"base speeding up to {speed:.2f} m/s while "
                                          f"braked (from {self._base_low:.2f} m/s): driven behind the gate",
                                          speed, self._base_low + p.max_base_speed))
        if snap.joints is not None and snap.joints.received > since:
            fastest, name = max(zip((abs(v) for v in snap.joints.velocity), snap.joints.names, strict=True),
                                default=(0.0, ""))
            self._joint_low = fastest if self._joint_low is None else min(self._joint_low, fastest)
            if fastest > self._joint_low + p.max_joint_speed:
                faults.append(self._fault(MOTION_WHILE_STOPPED, name, f"{name} speeding up to {fastest:.2f} rad/s "
                                          f"while braked (from {self._joint_low:.2f} rad/s)", fastest,
                                          self._joint_low + p.max_joint_speed))

    def _brake(self, snap: Snapshot, faults: list[Fault]) -> None:
        report = snap.brake_report
        if snap.brake_since is None or report is None:
            self._confirmed = False  # no brake commanded, or a driver that does not report its brake
            return
        if report.applied:
            self._confirmed = True
            return
        if self._confirmed:  # applied, then released while still commanded: not by the gate
            faults.append(self._fault(BRAKE_NOT_APPLIED, "brake_state", "driver reports the brake released while "
                                      "it is commanded on (released behind the gate)", 0.0, 1.0))
