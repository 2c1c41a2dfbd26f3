"""Rule 4 — unsafe motion: joint speed or acceleration beyond limits, tracking error between the gate's command
and the measurement (collision or stuck joint), tilt or free fall from the IMU (fall detection)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_safety.core.model import Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param
from sigma_safety.core.urdf import JointLimit

OVERSPEED = 401
OVERACCELERATION = 402
TRACKING_ERROR = 403
TILT = 404
FREE_FALL = 405


@dataclass(frozen=True)
class MotionParams:
    """Limits on measured motion; joint speed limits come from the URDF."""

    velocity_margin: float = param(1.1, unit="x URDF velocity", low=1.0, high=3.0,
                                   description="measured joint speed above margin * URDF velocity stops the robot")
    acceleration_limit: float = param(400.0, unit="rad/s^2", low=1.0, high=1e5,
                                      description="joint acceleration (from successive joint_states) above this stops")
    tracking_error_limit: float = param(0.5, unit="rad", low=0.01, high=3.2,
                                        description="|commanded - measured| position above this counts as an error")
    tracking_error_time: float = param(0.5, unit="s", low=0.0, high=10.0,
                                       description="the tracking error must persist this long (collision, stuck joint)")
    tilt_limit: float = param(0.6, unit="rad", low=0.05, high=1.6,
                              description="torso tilt from vertical (IMU orientation) above this means falling")
    free_fall_acceleration: float = param(3.0, unit="m/s^2", low=0.0, high=9.0,
                                          description="specific force magnitude below this means free fall")
    free_fall_time: float = param(0.08, unit="s", low=0.0, high=2.0,
                                  description="free fall must persist this long")


def tilt_angle(q: tuple[float, float, float, float]) -> float:
    """Angle [rad] between the body z axis and world vertical for quaternion (x, y, z, w)."""
    x, y, z, w = q
    n = x * x + y * y + z * z + w * w
    if not n > 1e-12:
        return math.pi  # no usable orientation: assume the worst
    cos_tilt = 1.0 - 2.0 * (x * x + y * y) / n
    return math.acos(max(-1.0, min(1.0, cos_tilt)))


class MotionRule:
    """All unsafe-motion checks; every violation is latched (a collision or fall needs a person to look)."""

    name = "unsafe_motion"

    def __init__(self, params: MotionParams, limits: dict[str, JointLimit]) -> None:
        self.params = params
        self.limits = limits
        self._error_since: dict[str, float] = {}
        self._fall_since: float | None = None
        # the speed/acceleration checks depend on the last two joint samples only: kept until a new one arrives
        self._checked: tuple[object, object] | None = None
        self._joint_faults: list[Fault] = []
        self._measured: dict[str, float] = {}

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Check the latest joint, command and IMU samples."""
        if self._checked is None or self._checked[0] is not snap.joints or self._checked[1] is not snap.previous_joints:
            self._checked = (snap.joints, snap.previous_joints)
            self._joint_faults = []
            self._joint_checks(snap, self._joint_faults)
            self._measured = dict(zip(snap.joints.names, snap.joints.position, strict=True)) if snap.joints else {}
        faults = list(self._joint_faults)
        self._tracking(snap, now, faults)
        self._imu(snap, now, faults)
        return RuleOutput(tuple(faults), speed_scale=0.0 if faults else 1.0)

    def _fault(self, code: int, source: str, cause: str, value: float, limit: float,
               severity: Severity = Severity.PROTECTIVE_STOP) -> Fault:
        return Fault(code, self.name, source, cause, severity, True, value, limit)

    def _joint_checks(self, snap: Snapshot, faults: list[Fault]) -> None:
        p, cur, prev = self.params, snap.joints, snap.previous_joints
        if cur is None:
            return
        dt = cur.stamp - prev.stamp if prev is not None and cur.stamp > 0 and prev.stamp > 0 else 0.0
        prev_vel = dict(zip(prev.names, prev.velocity, strict=True)) if prev is not None and dt > 1e-4 else {}
        for name, vel in zip(cur.names, cur.velocity, strict=True):
            lim = self.limits.get(name)
            if lim is None:
                continue
            if abs(vel) > p.velocity_margin * lim.velocity:
                faults.append(self._fault(OVERSPEED, name, f"{name}: speed {abs(vel):.2f} rad/s above "
                                          f"{p.velocity_margin * lim.velocity:.2f}", abs(vel),
                                          p.velocity_margin * lim.velocity))
            if name in prev_vel:
                acc = abs(vel - prev_vel[name]) / dt
                if acc > p.acceleration_limit:
                    faults.append(self._fault(OVERACCELERATION, name, f"{name}: acceleration {acc:.0f} rad/s² "
                                              f"above {p.acceleration_limit:.0f}", acc, p.acceleration_limit))

    def _tracking(self, snap: Snapshot, now: float, faults: list[Fault]) -> None:
        p = self.params
        if snap.joints is None or snap.command is None:
            self._error_since.clear()
            return
        measured = self._measured
        for name, target in snap.command.targets.items():
            if name not in measured:
                continue
            err = abs(target - measured[name])
            if err <= p.tracking_error_limit:
                self._error_since.pop(name, None)
                continue
            since = self._error_since.setdefault(name, now)
            if now - since >= p.tracking_error_time:
                faults.append(self._fault(TRACKING_ERROR, name, f"{name}: tracking error {err:.2f} rad for "
                                          f"{now - since:.2f} s (collision or stuck joint)", err,
                                          p.tracking_error_limit))

    def _imu(self, snap: Snapshot, now: float, faults: list[Fault]) -> None:
        p = self.params
        if snap.imu is None:
            return
        tilt = tilt_angle(snap.imu.orientation)
        if tilt > p.tilt_limit:
            faults.append(self._fault(TILT, "imu", f"torso tilt {math.degrees(tilt):.0f}° above "
                                      f"{math.degrees(p.tilt_limit):.0f}° (falling)", tilt, p.tilt_limit,
                                      Severity.EMERGENCY_STOP))
        accel = math.sqrt(sum(a * a for a in snap.imu.linear_acceleration))
        if accel < p.free_fall_acceleration:
            if self._fall_since is None:
                self._fall_since = now
            if now - self._fall_since >= p.free_fall_time:
                faults.append(self._fault(FREE_FALL, "imu", f"specific force {accel:.1f} m/s² below "
                                          f"{p.free_fall_acceleration:.1f} for {now - self._fall_since:.2f} s "
                                          "(free fall)", accel, p.free_fall_acceleration, Severity.EMERGENCY_STOP))
        else:
            self._fall_since = None
