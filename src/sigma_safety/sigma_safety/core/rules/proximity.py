"""Rule 3 — human proximity: ISO/TS 15066 speed and separation monitoring.

Protective separation distance for a robot speed v (ISO/TS 15066 eq. 1, constant speeds, linear braking):
    S_p(v) = v_h (T_r + T_s) + v T_r + v T_s / 2 + C + Z_d + Z_r
The allowed robot speed is the largest v with S_p(v) <= d, the measured separation (centre distance minus the
robot's envelope radius). The speed scale is v_allowed / v_max; below ``stop_scale`` the robot makes a protective
stop, and resumes only once the scale has stayed at or above ``resume_scale`` for ``resume_delay`` (no flapping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_safety.core.model import NOMINAL_OUTPUT, Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param, require

SLOW_DOWN = 301
SEPARATION_STOP = 302


@dataclass(frozen=True)
class ProximityParams:
    """ISO/TS 15066 SSM terms; defaults are conservative for a walking humanoid."""

    human_speed: float = param(1.6, unit="m/s", low=0.0, high=5.0,
                               description="assumed human approach speed v_h (ISO 13855 walking speed)")
    reaction_time: float = param(0.1, unit="s", low=0.0, high=2.0,
                                 description="T_r: detection-to-stop-command time of the safety system")
    stopping_time: float = param(0.5, unit="s", low=0.01, high=5.0,
                                 description="T_s: robot stopping time from max speed")
    intrusion_distance: float = param(0.2, unit="m", low=0.0, high=2.0,
                                      description="C: intrusion distance (body parts reaching past detection)")
    human_uncertainty: float = param(0.1, unit="m", low=0.0, high=2.0,
                                     description="Z_d: human position measurement uncertainty")
    robot_uncertainty: float = param(0.05, unit="m", low=0.0, high=2.0,
                                     description="Z_r: robot position uncertainty")
    robot_radius: float = param(0.35, unit="m", low=0.0, high=3.0,
                                description="radius of the robot's envelope around its base origin")
    max_robot_speed: float = param(1.0, unit="m/s", low=0.01, high=10.0,
                                   description="robot speed at speed scale 1 (base and end-effectors)")
    min_confidence: float = param(0.3, unit="1", low=0.0, high=1.0,
                                  description="detections below this confidence are ignored")
    stop_scale: float = param(0.05, unit="1", low=0.0, high=1.0,
                              description="protective stop when the allowed speed scale falls below this")
    resume_scale: float = param(0.2, unit="1", low=0.0, high=1.0,
                                description="resume only when the allowed speed scale is at least this")
    resume_delay: float = param(1.0, unit="s", low=0.0, high=30.0,
                                description="the resume condition must hold this long")

    def __post_init__(self) -> None:
        require(self.stop_scale < self.resume_scale, "stop_scale must be below resume_scale (hysteresis)")


def protective_separation(p: ProximityParams, robot_speed: float, human_speed: float) -> float:
    """S_p [m] for the given robot and human speeds."""
    return (human_speed * (p.reaction_time + p.stopping_time) + robot_speed * p.reaction_time
            + robot_speed * p.stopping_time / 2.0 + p.intrusion_distance + p.human_uncertainty + p.robot_uncertainty)


def allowed_scale(p: ProximityParams, separation: float, human_speed: float) -> float:
    """Largest speed scale in [0, 1] whose S_p fits within ``separation``; non-decreasing in ``separation``."""
    slack = separation - protective_separation(p, 0.0, human_speed)
    v = slack / (p.reaction_time + p.stopping_time / 2.0)
    return min(1.0, max(0.0, v / p.max_robot_speed))


class ProximityRule:
    """Scales speed to the nearest human and stops with hysteresis."""

    name = "human_proximity"

    def __init__(self, params: ProximityParams) -> None:
        self.params = params
        self.stopped = False
        self._resume_since: float | None = None

    def raw_scale(self, snap: Snapshot) -> tuple[float, float, float, str]:
        """(scale, separation, human speed, who) for the most constraining detection."""
        p = self.params
        best = (1.0, math.inf, p.human_speed, "")
        for i, h in enumerate(snap.humans.humans if snap.humans else ()):
            if h.confidence < p.min_confidence:
                continue
            dist = math.hypot(h.x, h.y)
            closing = -(h.x * h.vx + h.y * h.vy) / dist if dist > 1e-9 else math.hypot(h.vx, h.vy)
            v_h = max(p.human_speed, closing)
            sep = dist - p.robot_radius
            s = allowed_scale(p, sep, v_h)
            if s < best[0] or (s == best[0] and sep < best[1]):
                best = (s, sep, v_h, f"human {i}")
        return best

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Speed scale from the nearest human; protective stop with resume hysteresis."""
        if snap.humans is None:
            return NOMINAL_OUTPUT
        p = self.params
        scale, sep, v_h, who = self.raw_scale(snap)
        v_r = math.hypot(snap.odom.vx, snap.odom.vy) if snap.odom else 0.0
        s_p = protective_separation(p, v_r, v_h)
        if scale < p.stop_scale:
            self.stopped = True
            self._resume_since = None
        elif self.stopped:
            if scale < p.resume_scale:
                self._resume_since = None
            elif self._resume_since is None:
                self._resume_since = now
            if self._resume_since is not None and now - self._resume_since >= p.resume_delay:
                self.stopped = False
                self._resume_since = None
        if self.stopped:
            return RuleOutput((Fault(SEPARATION_STOP, self.name, "humans",
                                     f"{who}: separation {sep:.2f} m cannot be held (S_p {s_p:.2f} m at human speed "
                                     f"{v_h:.1f} m/s); resume after scale >= {p.resume_scale} for {p.resume_delay} s",
                                     Severity.PROTECTIVE_STOP, False, sep, s_p),), speed_scale=0.0)
        if scale < 1.0:
            return RuleOutput((Fault(SLOW_DOWN, self.name, "humans",
                                     f"{who} at {sep:.2f} m: speed scaled to {scale:.0%} (S_p {s_p:.2f} m)",
                                     Severity.WARNING, False, sep, s_p),), speed_scale=scale)
        return NOMINAL_OUTPUT
