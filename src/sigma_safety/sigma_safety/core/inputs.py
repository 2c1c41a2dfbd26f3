"""Validation of raw input values into samples. Anything malformed raises ``InputRejected`` carrying the fault
(non-finite value, wrong array size, unknown or missing joint) so a bad message never crashes the supervisor."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from sigma_safety.core.model import (
    ActuatorSample,
    Authority,
    Fault,
    Human,
    HumansSample,
    ImuSample,
    JointSample,
    OdomSample,
    PolicyReport,
    Severity,
)
from sigma_safety.core.rules.watchdog import MALFORMED, NON_FINITE, UNKNOWN_JOINT


class InputRejected(Exception):  # noqa: N818 - a rejection, not a programming error
    """A message was rejected; ``fault`` says which input, what was wrong and where."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.cause)
        self.fault = fault


def _reject(code: int, topic: str, cause: str) -> InputRejected:
    return InputRejected(Fault(code, "watchdog", topic, f"{topic}: {cause}", Severity.PROTECTIVE_STOP, False))


def malformed(topic: str, cause: str) -> Fault:
    """The input fault for a message on ``topic`` that could not be read (``cause`` says what and where)."""
    return _reject(MALFORMED, topic, cause).fault


def _floats(topic: str, field: str, values: Sequence[float], n: int, names: Sequence[str] | None = None
            ) -> tuple[float, ...]:
    if len(values) != n:
        raise _reject(MALFORMED, topic, f"{field} has {len(values)} entries, expected {n}")
    out = tuple(map(float, values))
    if not all(map(math.isfinite, out)):
        i = next(i for i, v in enumerate(out) if not math.isfinite(v))
        where = names[i] if names is not None else str(i)
        raise _reject(NON_FINITE, topic, f"{field}[{where}] is {out[i]}")
    return out


def _names(topic: str, names: Sequence[str], known: Collection[str], require_all: bool) -> tuple[str, ...]:
    names = tuple(names)
    if len(set(names)) != len(names):
        raise _reject(MALFORMED, topic, "duplicate joint names")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise _reject(UNKNOWN_JOINT, topic, f"unknown joint(s) {unknown[:5]}")
    if require_all:
        missing = sorted(set(known) - set(names))
        if missing:
            raise _reject(MALFORMED, topic, f"joint(s) missing: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return names


def joint_sample(names: Sequence[str], position: Sequence[float], velocity: Sequence[float],
                 effort: Sequence[float], known: Collection[str], now: float, stamp: float = 0.0,
                 valid_names: tuple[str, ...] | None = None) -> JointSample:
    """``joint_states`` must list every known joint with position, velocity and effort. ``valid_names``: a name
    list already found valid against ``known`` (a tuple equal to it is not checked again)."""
    t = "joint_states"
    n = valid_names if valid_names is not None and names == valid_names else _names(t, names, known, True)
    return JointSample(n, _floats(t, "position", position, len(n), n), _floats(t, "velocity", velocity, len(n), n),
                       _floats(t, "effort", effort, len(n), n), now, stamp)


def imu_sample(orientation: Sequence[float], linear_acceleration: Sequence[float], now: float) -> ImuSample:
    """``imu`` orientation (x, y, z, w) must be a unit-ish quaternion."""
    q = _floats("imu", "orientation", orientation, 4)
    a = _floats("imu", "linear_acceleration", linear_acceleration, 3)
    norm = math.sqrt(sum(c * c for c in q))
    if not 0.9 < norm < 1.1:
        raise _reject(MALFORMED, "imu", f"orientation quaternion norm {norm:.3f} is not 1")
    return ImuSample((q[0], q[1], q[2], q[3]), (a[0], a[1], a[2]), now)


def actuator_sample(names: Sequence[str], winding_temperature: Sequence[float], current: Sequence[float],
                    known: Collection[str], now: float) -> ActuatorSample:
    """``actuator_health`` entries for known joints with one temperature and current each."""
    t = "actuator_health"
    n = _names(t, names, known, require_all=True)
    return ActuatorSample(n, _floats(t, "winding_temperature", winding_temperature, len(n), n),
                          _floats(t, "current", current, len(n), n), now)


def humans_sample(humans: Sequence[tuple[float, float, float, float, float]], now: float) -> HumansSample:
    """``humans`` as (x, y, vx, vy, confidence) tuples."""
    out = []
    for i, h in enumerate(humans):
        x, y, vx, vy, conf = _floats("humans", f"humans[{i}]", h, 5)
        out.append(Human(x, y, vx, vy, conf))
    return HumansSample(tuple(out), now)


def odom_sample(x: float, y: float, quaternion: Sequence[float], vx: float, vy: float, wz: float,
                now: float) -> OdomSample:
    """``odom`` pose (yaw from the quaternion) and base-frame twist."""
    px, py, bvx, bvy, bwz = _floats("odom", "pose/twist", (x, y, vx, vy, wz), 5)
    qx, qy, qz, qw = _floats("odom", "orientation", quaternion, 4)
    if not 0.9 < math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw) < 1.1:
        raise _reject(MALFORMED, "odom", "orientation quaternion is not normalised")
    yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
    return OdomSample(px, py, yaw, bvx, bvy, bwz, now)


def policy_report(source: int, confidence: float, now: float) -> PolicyReport:
    """``policy_health``: the source must be a known AI; a non-finite confidence counts as 0."""
    if source not in (Authority.PRIMARY_AI, Authority.EDGE_AI):
        raise _reject(MALFORMED, "policy_health", f"unknown source {source}")
    c = float(confidence)
    return PolicyReport(Authority(source), c if math.isfinite(c) else 0.0, now)
