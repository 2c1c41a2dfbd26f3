"""Translation between the core's plain types and ROS messages (no logic here)."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from sigma_interfaces.msg import SafetyEvent, SafetyFault, SafetyStatus
from sigma_safety.core.model import Authority, Fault, Level, SafetyState, Severity, Transition


def to_time(seconds: float) -> Time:
    """Seconds → builtin_interfaces/Time (non-negative)."""
    seconds = max(0.0, seconds)
    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=int((seconds - sec) * 1e9))


def fault_msg(f: Fault, stamp_of: float, now_stamp: float) -> SafetyFault:
    """A core fault as ``SafetyFault``; ``since`` is mapped from the core clock to ROS time."""
    value = f.value if math.isfinite(f.value) else 0.0
    limit = f.limit if math.isfinite(f.limit) else 0.0
    return SafetyFault(code=f.code, rule=f.rule, source=f.source, cause=f.cause, severity=int(f.severity),
                       latched=f.latched, value=float(value), limit=float(limit),
                       since=to_time(now_stamp - (stamp_of - f.since)))


def status_msg(state: SafetyState, ros_now: Time, ros_now_s: float) -> SafetyStatus:
    """``SafetyStatus`` for a state evaluated at core time ``state.stamp``."""
    msg = SafetyStatus(level=int(state.level), authority=int(state.authority), speed_scale=float(state.speed_scale),
                       torque_scale=float(state.torque_scale), brake_engaged=state.brake_engaged,
                       sequence=state.sequence)
    msg.header.stamp = ros_now
    msg.active_faults = [fault_msg(f, state.stamp, ros_now_s) for f in state.faults]
    return msg


def event_msg(t: Transition, ros_now: Time, ros_now_s: float) -> SafetyEvent:
    """``SafetyEvent`` for one transition."""
    msg = SafetyEvent(sequence=t.current.sequence, previous_level=int(t.previous.level), level=int(t.current.level),
                      previous_authority=int(t.previous.authority), authority=int(t.current.authority),
                      cause=t.cause, recording="")
    msg.header.stamp = ros_now
    msg.raised = [fault_msg(f, t.current.stamp, ros_now_s) for f in t.raised]
    msg.cleared = [fault_msg(f, t.current.stamp, ros_now_s) for f in t.cleared]
    return msg


def state_from_msg(msg: SafetyStatus, now: float) -> SafetyState:
    """The gate's view of a received ``SafetyStatus`` (unknown enum values fail safe)."""
    try:
        level = Level(msg.level)
    except ValueError:
        level = Level.EMERGENCY_STOP
    try:
        authority = Authority(msg.authority)
    except ValueError:
        authority = Authority.MECHANICAL_FALLBACK
    speed = msg.speed_scale if math.isfinite(msg.speed_scale) else 0.0
    torque = msg.torque_scale if math.isfinite(msg.torque_scale) else 0.0
    return SafetyState(level, authority, speed, torque, bool(msg.brake_engaged), (), int(msg.sequence), now)


_DIAG_LEVEL = {Level.NOMINAL: DiagnosticStatus.OK, Level.DEGRADED: DiagnosticStatus.WARN,
               Level.PROTECTIVE_STOP: DiagnosticStatus.ERROR, Level.EMERGENCY_STOP: DiagnosticStatus.ERROR}


def diagnostics_msg(state: SafetyState, node_name: str, ros_now: Time) -> DiagnosticArray:
    """One ``DiagnosticStatus`` for the overall state plus one per active fault."""
    arr = DiagnosticArray()
    arr.header.stamp = ros_now
    arr.status.append(DiagnosticStatus(
        level=_DIAG_LEVEL[state.level], name=f"{node_name}: safety state", hardware_id="sigma_safety",
        message=f"{state.level.name}, authority {state.authority.name}",
        values=[KeyValue(key="speed_scale", value=f"{state.speed_scale:.3f}"),
                KeyValue(key="torque_scale", value=f"{state.torque_scale:.3f}"),
                KeyValue(key="brake_engaged", value=str(state.brake_engaged)),
                KeyValue(key="sequence", value=str(state.sequence))]))
    for f in state.faults:
        arr.status.append(DiagnosticStatus(
            level=DiagnosticStatus.WARN if f.severity == Severity.WARNING else DiagnosticStatus.ERROR,
            name=f"{node_name}: {f.rule}/{f.source}", hardware_id=f.source, message=f"[{f.code}] {f.cause}",
            values=[KeyValue(key="value", value=f"{f.value:.4g}"), KeyValue(key="limit", value=f"{f.limit:.4g}"),
                    KeyValue(key="latched", value=str(f.latched))]))
    return arr
