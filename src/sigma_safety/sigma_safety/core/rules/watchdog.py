"""Rule 8 — watchdogs: every safety-relevant input has a maximum age; a stale input, or one never received, is a
fault (fail safe). Malformed inputs (non-finite values, wrong sizes, unknown joints) are recorded by the policy in
``Snapshot.input_faults`` and reported here until a valid message of that input arrives."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_safety.core.model import Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param

STALE = 801
NON_FINITE = 802
MALFORMED = 803
UNKNOWN_JOINT = 804
SENSOR_CONTRADICTS_PHYSICS = 805  # sigma_twin's consistency check flagged a sensor (whitepaper §9, spoofing)


@dataclass(frozen=True)
class WatchdogParams:
    """Maximum age per input topic (receipt time on the supervisor's clock)."""

    joint_states: float = param(0.2, unit="s", low=0.005, high=60.0, description="max age of joint_states")
    imu: float = param(0.2, unit="s", low=0.005, high=60.0, description="max age of imu")
    actuator_health: float = param(1.0, unit="s", low=0.005, high=60.0, description="max age of actuator_health")
    humans: float = param(0.5, unit="s", low=0.005, high=60.0, description="max age of humans")
    odom: float = param(0.3, unit="s", low=0.005, high=60.0, description="max age of odom")
    battery_state: float = param(5.0, unit="s", low=0.005, high=600.0, description="max age of battery_state")


class WatchdogRule:
    """Stale and malformed inputs."""

    name = "watchdog"

    def __init__(self, params: WatchdogParams, started: float) -> None:
        self.params = params
        self.started = started

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """One fault per stale input plus every recorded malformed-input fault."""
        p = self.params
        received = {
            "joint_states": snap.joints.received if snap.joints else None,
            "imu": snap.imu.received if snap.imu else None,
            "actuator_health": snap.actuators.received if snap.actuators else None,
            "humans": snap.humans.received if snap.humans else None,
            "odom": snap.odom.received if snap.odom else None,
            "battery_state": snap.battery_received,
        }
        faults = list(snap.input_faults.values())
        for topic, at in received.items():
            max_age = getattr(p, topic)
            age = now - (self.started if at is None else at)
            if at is None and age <= max_age:
                age = max_age + 1e-9  # never received: a fault from the start, not after a grace period
            if age > max_age:
                what = "no message received yet" if at is None else f"last message {age:.3f} s ago"
                faults.append(Fault(STALE, self.name, topic, f"{topic}: {what} (max age {max_age} s)",
                                    Severity.PROTECTIVE_STOP, False, age, max_age))
        # a warning (e.g. the twin's vibration signature) reports, it does not stop; every other input fault stops
        stop = any(f.severity > Severity.WARNING for f in faults)
        return RuleOutput(tuple(faults), speed_scale=0.0 if stop else 1.0)
