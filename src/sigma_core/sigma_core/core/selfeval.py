"""Self-evaluation: the Edge AI's confidence in its own decisions, with the reasons.

Confidence is the minimum over factors (each in [0, 1] with a reason): input ages, rejected inputs, tracking error,
progress against expectation (only while safety lets the robot move — a person stopping it is not the policy's
fault), the twin's risk and the adopted fleet model's fault verdict (the fleet knows a fault the Edge AI's own
inputs do not show: its confidence is capped). It is published as ``policy_health`` (SOURCE_EDGE_AI): the safety
supervisor's self-suspension rule decides what it means for authority; the arbiter uses it to downgrade at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_core.core.perception import WorldState
from sigma_ros_common.params import param


@dataclass(frozen=True)
class SelfEvalParams:
    """Limits of the confidence factors."""

    odom_max_age: float = param(0.5, unit="s", low=0.01, high=10.0,
                                description="odometry older than this: confidence 0.5 (holding); twice this: none")
    safety_max_age: float = param(0.5, unit="s", low=0.01, high=10.0,
                                  description="safety status older than this: confidence capped at 0.4")
    humans_max_age: float = param(1.0, unit="s", low=0.01, high=10.0,
                                  description="person detections older than this: confidence capped at 0.6")
    joints_max_age: float = param(0.5, unit="s", low=0.01, high=10.0,
                                  description="joint states older than this during an arm motion: 0.5; twice this: 0.3")
    tracking_error_limit: float = param(1.0, unit="m", low=0.05, high=10.0,
                                        description="cross-track error at which confidence reaches 0.3")
    stall_expectation: float = param(6.0, unit="s", low=0.5, high=120.0,
                                     description="no progress for this long while allowed to move: capped at 0.5")
    rejected_window: float = param(1.0, unit="s", low=0.0, high=60.0,
                                   description="an input rejected within this window caps confidence at 0.4")
    fleet_fault_confidence: float = param(0.7, unit="1", low=0.0, high=1.0,
                                          description="confidence cap while the adopted fleet model classifies the "
                                                      "recent telemetry as a fault class")


@dataclass(frozen=True)
class Assessment:
    confidence: float
    input_age: float          # age of the newest input the decision used [s]
    reasons: tuple[str, ...]


@dataclass
class SelfEvaluation:
    """Tracks progress against expectation between ticks."""

    params: SelfEvalParams
    best_remaining: float = math.inf
    since_progress: float | None = None

    def assess(self, world: WorldState, *, cross_track: float, remaining: float, moving_expected: bool,
               needs_joints: bool, last_rejected_at: float | None, fleet_fault: str = "") -> Assessment:
        """The Edge AI's confidence now; ``fleet_fault``: the fault class of a fresh fleet model verdict (reasoning's
        ``Constraints.fleet_fault``), "" for none."""
        p, now = self.params, world.now
        factors: list[tuple[float, str]] = []
        # Graded: late (the executor holds still, the policy still commands a hold) before lost (no confidence).
        if world.pose is None or world.pose_age > 2.0 * p.odom_max_age:
            factors.append((0.0, f"odometry stale ({world.pose_age:.2f} s > {2.0 * p.odom_max_age:g} s)"))
        elif world.pose_age > p.odom_max_age:
            factors.append((0.5, f"odometry late ({world.pose_age:.2f} s > {p.odom_max_age} s): holding"))
        if world.safety is None or world.safety_age > p.safety_max_age:
            factors.append((0.4, f"safety status stale ({world.safety_age:.2f} s)"))
        if world.humans_age > p.humans_max_age:
            factors.append((0.6, f"person detections stale ({world.humans_age:.2f} s)"))
        if needs_joints and world.joints_age > p.joints_max_age and world.joints_stream_age > p.joints_max_age:
            lost = world.joints_age > 2.0 * p.joints_max_age
            factors.append((0.3 if lost else 0.5, f"joint states {'stale' if lost else 'late'} "
                                                  f"({world.joints_age:.2f} s) during an arm motion"))
        if last_rejected_at is not None and now - last_rejected_at <= p.rejected_window:
            factors.append((0.4, f"input rejected: {world.rejected[-1] if world.rejected else '?'}"))
        if math.isfinite(cross_track) and cross_track > 0.3 * p.tracking_error_limit:
            c = max(0.3, 1.0 - 0.7 * cross_track / p.tracking_error_limit)
            factors.append((c, f"off the path by {cross_track:.2f} m"))
        allowed = world.safety is not None and world.safety.speed_scale > 0.0 and not world.safety.brake
        if moving_expected and allowed and math.isfinite(remaining):
            if remaining < self.best_remaining - 0.05 or self.since_progress is None:
                self.best_remaining, self.since_progress = remaining, now
            elif now - self.since_progress > p.stall_expectation:
                factors.append((0.5, f"no progress for {now - self.since_progress:.1f} s while allowed to move"))
        else:
            self.best_remaining, self.since_progress = math.inf, None
        if math.isfinite(world.twin_risk):
            # The twin's risk is over its horizon (hours): it lowers confidence, never below 0.5 on its own —
            # refusing new work is the reasoning stage's answer to it, not a fallback now.
            factors.append((1.0 - 0.5 * world.twin_risk, f"twin failure risk {world.twin_risk:.2f}"))
        if fleet_fault:
            factors.append((p.fleet_fault_confidence, f"fleet model flags {fleet_fault}"))
        confidence = min((c for c, _ in factors), default=1.0)
        reasons = tuple(r for c, r in sorted(factors) if c < 1.0) or ("nominal",)
        ages = [a for a in (world.pose_age, world.safety_age, world.humans_age) if math.isfinite(a)]
        return Assessment(max(0.0, min(1.0, confidence)), min(ages) if ages else math.inf, reasons)
