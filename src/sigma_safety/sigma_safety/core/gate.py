"""The command gate: every joint target and base velocity passes here before the driver.

It blocks everything when stopped, when the safety state is stale, or when the sender is not the authority
currently allowed; otherwise it clamps joint targets to the URDF limits, limits each target's distance from the
measured position to what the scaled joint speed can cover in ``step_horizon``, writes the scaled speed limit
into the command, and scales and clamps base velocities. The drives' torque limit follows the safety state's torque
scale.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sigma_safety.core.model import Authority, SafetyState
from sigma_safety.core.params import param
from sigma_safety.core.urdf import JointLimit


@dataclass(frozen=True)
class GateParams:
    """Limits the gate applies on top of the URDF."""

    state_timeout: float = param(0.3, unit="s", low=0.01, high=10.0,
                                 description="without a fresh safety state for this long, everything is blocked")
    step_horizon: float = param(0.05, unit="s", low=0.001, high=1.0,
                                description="a joint target may lead the measurement by speed limit * this")
    max_linear_speed: float = param(1.0, unit="m/s", low=0.0, high=10.0, description="base linear speed at scale 1")
    max_angular_speed: float = param(1.5, unit="rad/s", low=0.0, high=20.0,
                                     description="base angular speed at scale 1")
    hold_rate: float = param(50.0, unit="Hz", low=1.0, high=200.0,
                             description="rate at which brake, zero velocity and hold posture are re-sent while "
                                         "stopped (at least the rate of any other command source)")


# [s] how long the gate remembers what it sent: its own messages come back within milliseconds, but a starved process
# (no real-time priority on an overloaded machine) was seen to take over a second, which must not read as an attack.
SENT_MEMORY = 5.0


@dataclass(frozen=True)
class JointCommand:
    """Targets the gate lets through: positions [rad] and velocity limits [rad/s] (empty = none), like ``names``."""

    names: tuple[str, ...]
    position: tuple[float, ...]
    velocity: tuple[float, ...]


@dataclass(frozen=True)
class Twist:
    """Base velocity (linear x, y [m/s], angular z [rad/s]); other axes are not commandable on a walking base."""

    vx: float = 0.0
    vy: float = 0.0
    wz: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one command: what to forward (None = blocked) and why."""

    command: JointCommand | Twist | None
    reason: str

    @property
    def passed(self) -> bool:
        """True when something is forwarded."""
        return self.command is not None


class CommandGate:
    """Pure gate logic; the node feeds it the safety state, measured joint positions and commands."""

    def __init__(self, params: GateParams, limits: dict[str, JointLimit]) -> None:
        self.params = params
        self.limits = limits
        self.state: SafetyState | None = None
        self.state_at: float | None = None
        self.measured: dict[str, float] = {}
        self.hold: JointCommand | None = None
        self.source_fault: str | None = None
        self._sent: deque[tuple[float, str, Hashable]] = deque(maxlen=1024)
        self._last_sent: dict[str, Hashable] = {}

    def note_sent(self, topic: str, value: Hashable, now: float) -> None:
        """Remember an output (before publishing it), to tell it from someone else's on the same topic."""
        self._sent.append((now, topic, value))
        self._last_sent[topic] = value

    def was_sent(self, topic: str, value: Hashable, now: float) -> bool:
        """True when ``value`` is the gate's latest output on ``topic`` or one it sent within ``SENT_MEMORY``
        seconds: anything else seen on a ``driver/*`` topic came from another publisher."""
        while self._sent and now - self._sent[0][0] > SENT_MEMORY:
            self._sent.popleft()
        return self._last_sent.get(topic) == value or any(t == topic and v == value for _, t, v in self._sent)

    def set_source_fault(self, reason: str | None) -> None:
        """The safety state's source cannot be trusted (``reason``), or can again (None): fail safe meanwhile."""
        if reason is not None and self.source_fault is None:
            self.capture_hold()
        self.source_fault = reason

    def set_state(self, state: SafetyState, now: float) -> bool:
        """Adopt a safety state; returns True when it switches the gate into a stop (hold must be sent)."""
        was_stopped = self.blocked_reason(now) is not None
        self.state, self.state_at = state, now
        stopping = state.stopped and (not was_stopped or self.hold is None)
        if stopping:
            self.capture_hold()
        elif not state.stopped:
            self.hold = None
        return stopping

    def set_measured(self, names: Sequence[str], positions: Sequence[float]) -> None:
        """Latest measured joint positions (finite values of known joints only)."""
        for n, p in zip(names, positions, strict=False):  # extra entries are ignored
            if n in self.limits and math.isfinite(p):
                self.measured[n] = float(p)

    def capture_hold(self) -> None:
        """Freeze the current measured posture (within the joint limits) as the hold target, without speed limits
        (the joints are already there; drivers refuse zero velocity limits)."""
        names = tuple(n for n in self.limits if n in self.measured)
        pos = tuple(min(max(self.measured[n], self.limits[n].lower), self.limits[n].upper) for n in names)
        self.hold = JointCommand(names, pos, ())

    def blocked_reason(self, now: float) -> str | None:
        """Why no command may pass right now, or None."""
        if self.source_fault is not None:
            return f"safety state source not trusted: {self.source_fault}"
        if self.state is None or self.state_at is None:
            return "no safety state received yet"
        if now - self.state_at > self.params.state_timeout:
            return f"safety state is {now - self.state_at:.3f} s old (max {self.params.state_timeout} s)"
        if self.state.stopped:
            return f"robot is stopped (level {self.state.level.name}, brake {self.state.brake_engaged})"
        return None

    def _admit(self, sender: Authority, now: float) -> str | None:
        reason = self.blocked_reason(now)
        if reason is not None:
            return reason
        assert self.state is not None
        if sender != self.state.authority:
            return f"{sender.name} may not command: authority is {self.state.authority.name}"
        return None

    def joint_command(self, sender: Authority, names: Sequence[str], position: Sequence[float],
                      velocity: Sequence[float], now: float) -> Verdict:
        """Filter a joint-target command from ``sender``."""
        reason = self._admit(sender, now)
        if reason is not None:
            return Verdict(None, reason)
        if len(position) != len(names) or (len(velocity) not in (0, len(names))):
            return Verdict(None, f"malformed command: {len(names)} names, {len(position)} positions, "
                                 f"{len(velocity)} velocities")
        if len(set(names)) != len(names):
            return Verdict(None, "malformed command: duplicate joint names")
        unknown = [n for n in names if n not in self.limits]
        if unknown:
            return Verdict(None, f"unknown joint(s) {unknown[:5]}")
        assert self.state is not None
        scale = max(0.0, min(1.0, self.state.speed_scale))
        if scale <= 0.0:
            return Verdict(None, "speed scale is 0")
        out_p, out_v = [], []
        for i, n in enumerate(names):
            target = float(position[i])
            requested = float(velocity[i]) if velocity else math.inf
            if not math.isfinite(target) or math.isnan(requested):
                return Verdict(None, f"non-finite target for {n}")
            if n not in self.measured:
                return Verdict(None, f"no measured position for {n} yet")
            lim = self.limits[n]
            here = self.measured[n]
            cap = lim.velocity * scale
            if requested <= 0.0:  # a zero (or negative) speed limit means: do not move this joint
                target, v = here, cap  # drivers refuse non-positive limits; the target does not move
            else:
                v = min(requested, cap)
                step = v * self.params.step_horizon
                target = min(max(target, here - step), here + step)
            target = min(max(target, lim.lower), lim.upper)
            out_p.append(target)
            out_v.append(v)
        return Verdict(JointCommand(tuple(names), tuple(out_p), tuple(out_v)), "passed")

    def cmd_vel(self, sender: Authority, vx: float, vy: float, wz: float, now: float) -> Verdict:
        """Filter a base-velocity command from ``sender``."""
        reason = self._admit(sender, now)
        if reason is not None:
            return Verdict(None, reason)
        if not all(math.isfinite(v) for v in (vx, vy, wz)):
            return Verdict(None, "non-finite velocity")
        assert self.state is not None
        scale = max(0.0, min(1.0, self.state.speed_scale))
        lin = self.params.max_linear_speed * scale
        speed = math.hypot(vx, vy)
        k = 1.0 if speed <= lin else (lin / speed if speed > 0 else 0.0)
        ang = self.params.max_angular_speed * scale
        return Verdict(Twist(vx * k, vy * k, max(-ang, min(ang, wz))), "passed")

    def hold_outputs(self) -> tuple[JointCommand | None, Twist]:
        """What to send while stopped: the frozen posture (if any joint was measured) and zero base velocity."""
        if self.hold is None or not self.hold.names:
            self.capture_hold()
        assert self.hold is not None
        return (self.hold if self.hold.names else None), Twist()

    def stop_outputs(self, now: float) -> tuple[JointCommand | None, Twist]:
        """What to re-send while stopped: zero base velocity and the hold posture, the latter only without brakes
        (a braked driver ignores joint targets; sending them anyway only makes it complain)."""
        joints, twist = self.hold_outputs()
        return (None if self.is_brake(now) else joints), twist

    def torque_limit(self) -> float | None:
        """The drives' torque limit, as a share of each actuator's rated peak effort: the safety state's torque scale
        (capped at the continuous rating while an I²t budget runs low, 0 in an emergency stop, where the brakes hold).
        None before the first state: the drives keep their rating (and the brakes are on)."""
        if self.state is None:
            return None
        t = self.state.torque_scale
        return min(max(t, 0.0), 1.0) if math.isfinite(t) else 0.0

    def counters_torque(self, limit: float) -> bool:
        """True when a torque limit seen on ``driver/torque_limit`` must be overridden at once: it allows more than
        the safety state does (or is not a number)."""
        ours = self.torque_limit()
        return ours is not None and not limit <= ours

    def counters_twist(self, vx: float, vy: float, wz: float, now: float) -> bool:
        """True when a base velocity seen on ``driver/cmd_vel`` must be overridden at once: we are stopped (and only
        ever send zero then), so a moving one came from someone else."""
        return self.blocked_reason(now) is not None and (vx != 0.0 or vy != 0.0 or wz != 0.0)

    def counters_brake(self, applied: bool, now: float) -> bool:
        """True when a released brake (commanded on ``driver/brake`` or reported by the driver) must be re-engaged
        at once because the brakes must be on."""
        return not applied and self.is_brake(now)

    def is_brake(self, now: float) -> bool:
        """Brakes on: commanded by the state, or no fresh and trusted state at all (fail safe)."""
        if self.source_fault is not None or self.state is None or self.state_at is None or \
                now - self.state_at > self.params.state_timeout:
            return True
        return self.state.brake_engaged
