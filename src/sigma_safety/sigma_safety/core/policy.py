"""The safety policy: every rule evaluated on every input, combined into one ``SafetyState``.

Combination: the level is the most severe active or latched fault; speed and torque scales are the minimum over
rules (zero in any stop); authority is the weakest any rule allows (mechanical fallback in emergency stop); brakes
are engaged in emergency stop and in mechanical fallback. Latched faults stay until an authorized reset, which is
refused while any protective-stop or emergency-stop condition is still active. E-stop requests and the e-stop
button are rule 6 and live here because they are commands, not measurements.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sigma_safety.core import inputs
from sigma_safety.core.model import (
    SEVERITY_LEVEL,
    Authority,
    BrakeReport,
    CommandSample,
    Fault,
    Level,
    RuleOutput,
    SafetyState,
    Severity,
    Snapshot,
    Transition,
)
from sigma_safety.core.params import ConfigError, build
from sigma_safety.core.rule import Rule
from sigma_safety.core.rules.authority import AuthorityParams, AuthorityRule
from sigma_safety.core.rules.driver import DriverParams, DriverRule
from sigma_safety.core.rules.geofence import GeofenceParams, GeofenceRule, Site
from sigma_safety.core.rules.motion import MotionParams, MotionRule
from sigma_safety.core.rules.overload import OverloadParams, OverloadRule
from sigma_safety.core.rules.proximity import ProximityParams, ProximityRule
from sigma_safety.core.rules.thermal import ThermalParams, ThermalRule
from sigma_safety.core.rules.watchdog import SENSOR_CONTRADICTS_PHYSICS, WatchdogParams, WatchdogRule
from sigma_safety.core.urdf import JointLimit

ESTOP_REQUESTED = 601
ESTOP_BUTTON = 602
RESTORE_FAILED = 898

SECTIONS: dict[str, type] = {
    "overload": OverloadParams,
    "thermal": ThermalParams,
    "human_proximity": ProximityParams,
    "unsafe_motion": MotionParams,
    "geofence": GeofenceParams,
    "ai_self_suspension": AuthorityParams,
    "watchdog": WatchdogParams,
    "driver_integrity": DriverParams,
}

#: sigma_twin's cross-sensor checks as named in twin/health spoofed_sensors -> (input, cause, severity)
TWIN_CROSS_CHECKS: dict[str, tuple[str, str, Severity]] = {
    "imu": ("imu", "the IMU contradicts the odometry (yaw rate, acceleration or gravity)", Severity.PROTECTIVE_STOP),
    "battery_voltage": ("battery_state", "the battery voltage does not follow the current draw",
                        Severity.PROTECTIVE_STOP),
    "vibration": ("imu_vibration", "IMU vibration above its learnt level (bearing or gear wear?)", Severity.WARNING),
}


@dataclass(frozen=True)
class SafetyConfig:
    """Parameters of every rule."""

    overload: OverloadParams = dataclasses.field(default_factory=OverloadParams)
    thermal: ThermalParams = dataclasses.field(default_factory=ThermalParams)
    human_proximity: ProximityParams = dataclasses.field(default_factory=ProximityParams)
    unsafe_motion: MotionParams = dataclasses.field(default_factory=MotionParams)
    geofence: GeofenceParams = dataclasses.field(default_factory=GeofenceParams)
    ai_self_suspension: AuthorityParams = dataclasses.field(default_factory=AuthorityParams)
    watchdog: WatchdogParams = dataclasses.field(default_factory=WatchdogParams)
    driver_integrity: DriverParams = dataclasses.field(default_factory=DriverParams)


def config_from_flat(values: Mapping[str, Any]) -> SafetyConfig:
    """Build the config from ``{"section.name": value}`` (the ROS parameter names); unknown names are refused."""
    grouped: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for key, value in values.items():
        section, _, name = key.partition(".")
        if section not in SECTIONS or not name:
            raise ConfigError(f"unknown parameter {key!r} (sections: {', '.join(SECTIONS)})")
        grouped[section][name] = value
    return SafetyConfig(**{s: build(cls, grouped[s], s) for s, cls in SECTIONS.items()})


@dataclass(frozen=True)
class ResetResult:
    """Outcome of a reset request (mirrors ``ResetSafety`` response)."""

    success: bool
    message: str
    blocking_codes: tuple[int, ...] = ()


class SafetyPolicy:
    """Holds the latest inputs and the latches; ``evaluate(now)`` gives the current state."""

    reuse_unchanged = True  # a message that changes no rule's output returns the last state (False: always combine)

    def __init__(self, config: SafetyConfig, limits: dict[str, JointLimit], *, now: float,
                 site: Site | None = None, reset_secret: bytes | None = None) -> None:
        self.config = config
        self.limits = limits
        self.reset_secret = reset_secret or None
        self.snap = Snapshot()
        self.authority = AuthorityRule(config.ai_self_suspension)
        self.rules: list[Rule] = [
            OverloadRule(config.overload, limits),
            ThermalRule(config.thermal),
            ProximityRule(config.human_proximity),
            MotionRule(config.unsafe_motion, limits),
            GeofenceRule(config.geofence, site),
            self.authority,
            WatchdogRule(config.watchdog, now),
            DriverRule(config.driver_integrity),
        ]
        # The inputs each rule reads (None: all, and time). A message re-runs only the rules that read it; the others
        # keep their last output until the next full evaluation (every status tick, every service call). This keeps
        # the hazard path (one message -> the gate) short: a person on ``humans`` runs 2 rules, not 8.
        self._reads: list[frozenset[str] | None] = [
            frozenset({"joint_states"}),
            frozenset({"actuator_health"}),
            frozenset({"humans", "odom"}),
            frozenset({"joint_states", "imu", "driver/joint_command"}),
            frozenset({"odom"}),
            frozenset({"policy_health"}),
            None,
            frozenset({"joint_states", "odom", "brake_state"}),
        ]
        self._outputs: list[RuleOutput | None] = [None] * len(self.rules)
        self.latched: dict[tuple[int, str], Fault] = {}
        self.active: dict[tuple[int, str], Fault] = {}
        self.state = SafetyState(stamp=now)
        self.transitions: list[Transition] = []
        self._notes: list[str] = []
        self._since: dict[tuple[int, str], float] = {}
        self._joint_names: tuple[str, ...] | None = None  # the last joint name list found valid
        self._basis: tuple[bool, tuple[tuple[int, str], ...]] | None = None  # e-stop button and latches last combined

    # ----- inputs -----

    def _accept(self, topic: str, make: Callable[[], Any]) -> Any | None:
        try:
            sample = make()
        except inputs.InputRejected as exc:
            self.snap.input_faults[topic] = exc.fault
            return None
        self.snap.input_faults.pop(topic, None)
        return sample

    def reject_input(self, topic: str, cause: str) -> None:
        """A message on ``topic`` that could not be read at all: an input fault (protective stop) until a good one."""
        self.snap.input_faults[topic] = inputs.malformed(topic, cause)

    def update_joints(self, names: Any, position: Any, velocity: Any, effort: Any, now: float,
                      stamp: float = 0.0) -> None:
        """A ``joint_states`` message."""
        s = self._accept("joint_states", lambda: inputs.joint_sample(names, position, velocity, effort,
                                                                      self.limits, now, stamp, self._joint_names))
        if s is not None:
            self._joint_names = s.names
            self.snap.previous_joints, self.snap.joints = self.snap.joints, s

    def update_sensor_consistency(self, spoofed: list[str], now: float) -> None:
        """sigma_twin's ``twin/health`` ``spoofed_sensors``: joints whose winding temperature sensor contradicts
        physics, and the twin's confirmed cross-sensor inconsistencies (``imu``: IMU vs odometry,
        ``battery_voltage``: voltage vs current draw, ``vibration``: IMU band energy above its learnt level). The
        rules cannot trust a contradicted sensor, so each is an input fault (watchdog) until the twin clears it:
        a protective stop, except vibration (wear, not a lying sensor): a warning."""
        joints = [s for s in spoofed if s not in TWIN_CROSS_CHECKS]
        if joints:
            self.snap.input_faults["twin/health"] = Fault(
                SENSOR_CONTRADICTS_PHYSICS, "watchdog", "actuator_health",
                f"actuator_health: winding temperature of {', '.join(joints)} contradicts I^2R heating "
                "(sigma_twin consistency check)", Severity.PROTECTIVE_STOP, False, float(len(joints)), 0.0, now)
        else:
            self.snap.input_faults.pop("twin/health", None)
        for name, (source, cause, severity) in TWIN_CROSS_CHECKS.items():
            key = f"twin/health:{name}"
            if name in spoofed:
                if key not in self.snap.input_faults:  # keep the first time it was reported
                    self.snap.input_faults[key] = Fault(SENSOR_CONTRADICTS_PHYSICS, "watchdog", source,
                                                        f"{source}: {cause} (sigma_twin consistency check)",
                                                        severity, False, 1.0, 0.0, now)
            else:
                self.snap.input_faults.pop(key, None)

    def update_imu(self, orientation: Any, linear_acceleration: Any, now: float) -> None:
        """An ``imu`` message."""
        s = self._accept("imu", lambda: inputs.imu_sample(orientation, linear_acceleration, now))
        if s is not None:
            self.snap.imu = s

    def update_actuators(self, names: Any, winding_temperature: Any, current: Any, now: float) -> None:
        """An ``actuator_health`` message."""
        s = self._accept("actuator_health",
                         lambda: inputs.actuator_sample(names, winding_temperature, current, self.limits, now))
        if s is not None:
            self.snap.actuators = s

    def update_humans(self, humans: Any, now: float) -> None:
        """A ``humans`` message as (x, y, vx, vy, confidence) tuples."""
        s = self._accept("humans", lambda: inputs.humans_sample(humans, now))
        if s is not None:
            self.snap.humans = s

    def update_odom(self, x: float, y: float, quaternion: Any, vx: float, vy: float, wz: float, now: float) -> None:
        """An ``odom`` message."""
        s = self._accept("odom", lambda: inputs.odom_sample(x, y, quaternion, vx, vy, wz, now))
        if s is not None:
            self.snap.odom = s

    def update_battery(self, now: float) -> None:
        """A ``battery_state`` message (only its age is monitored)."""
        self.snap.battery_received = now

    def update_policy_health(self, source: int, confidence: float, now: float) -> None:
        """A ``policy_health`` report from one AI."""
        r = self._accept("policy_health", lambda: inputs.policy_report(source, confidence, now))
        if r is not None:
            self.authority.observe(r)

    def update_command(self, targets: Mapping[str, float], now: float) -> None:
        """The gate's latest joint targets (for the tracking-error check)."""
        self.snap.command = CommandSample(dict(targets), now)

    def update_brake_state(self, applied: bool, now: float) -> None:
        """The driver's ``brake_state``: whether it actually applies the brakes."""
        self.snap.brake_report = BrakeReport(bool(applied), now)

    def update_publishers(self, topic: str, foreign: tuple[str, ...]) -> None:
        """Publishers of ``topic`` other than the safety layer's own (see ``core.graph.foreign_publishers``)."""
        self.snap.foreign_publishers[topic] = tuple(foreign)

    def report_foreign_command(self, topic: str, what: str, now: float) -> None:
        """The gate saw on ``topic`` a command it did not send (another publisher drives the robot)."""
        self.snap.foreign_commands[topic] = (what, now)

    def set_estop_button(self, pressed: bool) -> None:
        """The hardware e-stop button state (``safety/estop``)."""
        self.snap.estop_pressed = bool(pressed)

    # ----- commands -----

    def emergency_stop(self, reason: str, requester: str, now: float) -> tuple[bool, str]:
        """Engage the latched emergency stop (always accepted)."""
        who = requester or "unknown requester"
        fault = Fault(ESTOP_REQUESTED, "emergency_stop", "service",
                      f"emergency stop requested by {who}: {reason or 'no reason given'}",
                      Severity.EMERGENCY_STOP, True, 1.0, 0.0, now)
        self.latched.setdefault(fault.key, fault)
        self.evaluate(now)
        return True, f"emergency stop engaged by {who}; brakes on; an authorized reset is required"

    def reset(self, requester: str, token: str, now: float) -> ResetResult:
        """Clear latched faults if the token matches (constant time) and no stop condition is active."""
        self.evaluate(now)
        reasons = []
        if self.reset_secret is None:
            reasons.append("no reset token is configured on this robot (set SIGMA_SAFETY_RESET_TOKEN or the "
                           "reset_token_file parameter)")
        elif not hmac.compare_digest(token.encode("utf-8"), self.reset_secret):
            reasons.append("authorization token is invalid")
        blocking = sorted({f for f in self.active.values() if f.severity >= Severity.PROTECTIVE_STOP},
                          key=lambda f: f.key)
        if blocking:
            reasons.append("still active: " + "; ".join(f"[{f.code}] {f.cause}" for f in blocking))
        codes = tuple(sorted({f.code for f in blocking}))
        if reasons:
            return ResetResult(False, "reset refused: " + " | ".join(reasons), codes)
        cleared = len(self.latched)
        self.latched.clear()
        self._notes.append(f"reset by {requester or 'unknown requester'} cleared {cleared} latched fault(s)")
        self.evaluate(now)
        return ResetResult(True, f"reset accepted: {cleared} latched fault(s) cleared")

    # ----- latches across restarts -----

    def latched_records(self) -> list[dict[str, Any]]:
        """The latched faults as plain records (for a latch file that survives a process restart)."""
        return [{"code": f.code, "rule": f.rule, "source": f.source, "cause": f.cause, "severity": int(f.severity),
                 "value": f.value, "limit": f.limit} for f in self.latched.values()]

    def restore_latched(self, records: Any, now: float) -> int:
        """Re-latch faults saved before a restart; anything unreadable latches an emergency stop (fail safe)."""
        restored = 0
        try:
            for r in records:
                f = Fault(int(r["code"]), str(r["rule"]), str(r["source"]), f"restored after restart: {r['cause']}",
                          Severity(int(r["severity"])), True, float(r["value"]), float(r["limit"]), now)
                self.latched[f.key] = f
                restored += 1
        except (TypeError, KeyError, ValueError) as exc:
            self.restore_failed(f"latch records unreadable ({exc!r})", now)
        return restored

    def restore_failed(self, why: str, now: float) -> None:
        """The latch file could not be read: assume the worst and latch an emergency stop."""
        f = Fault(RESTORE_FAILED, "emergency_stop", "latch_file", f"{why}: latched faults may be lost",
                  Severity.EMERGENCY_STOP, True, 0.0, 0.0, now)
        self.latched[f.key] = f

    # ----- evaluation -----

    def evaluate(self, now: float, topic: str | None = None) -> SafetyState:
        """Run the rules on the latest inputs and combine; records a ``Transition`` when the decision changes.

        ``topic``: the input that just arrived; only the rules reading it (and the watchdog) run, the others
        contribute their last output; when none of them changed its output (and neither the e-stop button nor the
        latches changed), the last state is returned as it is. None (the default, and every timer tick) runs every
        rule and combines.
        """
        outputs: list[RuleOutput] = []
        same = topic is not None
        for i, rule in enumerate(self.rules):
            reads, last = self._reads[i], self._outputs[i]
            if last is None or topic is None or reads is None or topic in reads:
                out = self._outputs[i] = rule.evaluate(self.snap, now)
                same = same and out == last
                last = out
            outputs.append(last)
        basis = (self.snap.estop_pressed, tuple(self.latched))
        if (same and self.reuse_unchanged and basis == self._basis and self.state.sequence and not self._notes
                and not self.authority.notes):
            return self.state  # nothing the decision is combined from has changed since the last evaluation
        active: dict[tuple[int, str], Fault] = {}
        for out in outputs:
            for f in out.faults:
                active.setdefault(f.key, f)
        if self.snap.estop_pressed:
            f = Fault(ESTOP_BUTTON, "emergency_stop", "button", "hardware e-stop button pressed",
                      Severity.EMERGENCY_STOP, True, 1.0, 0.0)
            active[f.key] = f
        for key, f in active.items():
            if f.latched and key not in self.latched:
                self.latched[key] = f
        merged = dict(self.latched)
        merged.update(active)
        self._since = {k: self._since.get(k, merged[k].since or now) for k in merged}
        faults = tuple(dataclasses.replace(f, since=self._since[k]) for k, f in sorted(merged.items()))
        self.active = active

        level = max((SEVERITY_LEVEL[f.severity] for f in faults), default=Level.NOMINAL)
        speed = min(o.speed_scale for o in outputs)
        torque = min(o.torque_scale for o in outputs)
        if level == Level.NOMINAL and (speed < 1.0 or torque < 1.0):
            level = Level.DEGRADED
        authority = max(o.authority for o in outputs)
        if level >= Level.PROTECTIVE_STOP:
            speed = 0.0
        if level == Level.EMERGENCY_STOP:
            authority, torque = Authority.MECHANICAL_FALLBACK, 0.0
        brake = level == Level.EMERGENCY_STOP or authority == Authority.MECHANICAL_FALLBACK
        prev = self.state
        state = SafetyState(level, authority, speed, torque, brake, faults, prev.sequence, now)
        notes = self._notes + self.authority.drain_notes()
        self._notes = []
        changed = (state.level, state.authority, {f.key for f in faults}) != (
            prev.level, prev.authority, {f.key for f in prev.faults})
        if changed or prev.sequence == 0:
            state = dataclasses.replace(state, sequence=prev.sequence + 1)
            old = {f.key for f in prev.faults}
            new = {f.key for f in faults}
            raised = tuple(f for f in faults if f.key not in old)
            cleared = tuple(f for f in prev.faults if f.key not in new)
            cause = "; ".join(notes + [f"[{f.code}] {f.cause}" for f in raised]
                              + [f"cleared [{f.code}] {f.rule}:{f.source}" for f in cleared]) or "state change"
            self.transitions.append(Transition(prev, state, cause, raised, cleared))
        self.state = state
        self._basis = (self.snap.estop_pressed, tuple(self.latched))
        snap = self.snap  # what is commanded now, for the driver-integrity checks of the next evaluations
        snap.stop_since = (snap.stop_since if snap.stop_since is not None else now) if state.stopped else None
        snap.brake_since = (snap.brake_since if snap.brake_since is not None else now) if brake else None
        return state

    def take_transitions(self) -> list[Transition]:
        """Transitions recorded since the last call, oldest first."""
        out, self.transitions = self.transitions, []
        return out
