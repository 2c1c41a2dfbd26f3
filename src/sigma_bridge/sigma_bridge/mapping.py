"""ROS message -> uplink event payload (device protocol v1 channels). Messages are used as data only: no rclpy.

JSON has no NaN: a non-finite scalar (e.g. BatteryState's "unknown" NaN) is left out of the payload, and a list
holding one is sent empty with its field named in ``nonfinite`` (the protocol accepts empty lists).
"""

from __future__ import annotations

import math
from typing import Any

from sigma_protocol.channels import MAX_LIST, NO_WINDOW, RUL_BEYOND_H, RUL_UNKNOWN

# Channel names of the uplink (also the names the cloud stores per event).
CHANNELS = (
    "joint_states",
    "actuator_health",
    "battery",
    "imu",
    "odom",
    "safety_status",
    "safety_event",
    "task_status",
    "twin_health",
    "humans",
)
SAFETY_CHANNELS = frozenset({"safety_event"})


def stamp_seconds(stamp: Any) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def event_time(stamp: Any, wall_now: float, max_age: float = 3600.0, max_ahead: float = 60.0) -> float:
    """The event's ``ts`` [UNIX s]: the header stamp when it is plausible wall time, else the receive time.

    A simulator on sim time (``/clock`` from 0) stamps in seconds since its start, which the cloud would refuse.
    """
    t = stamp_seconds(stamp)
    return t if wall_now - max_age <= t <= wall_now + max_ahead else wall_now


def _list(out: dict, key: str, values: Any) -> None:
    vals = [float(v) for v in values]
    if all(math.isfinite(v) for v in vals):
        out[key] = vals
    else:
        out[key] = []
        out.setdefault("nonfinite", []).append(key)


def _scalar(out: dict, key: str, value: float) -> None:
    if math.isfinite(value):
        out[key] = float(value)


def _vec(v: Any) -> list[float]:
    return [float(v.x), float(v.y), float(v.z)]


def _quat(q: Any) -> list[float]:
    return [float(q.x), float(q.y), float(q.z), float(q.w)]


def _checked(out: dict, **lists: list[float]) -> dict:
    for key, vals in lists.items():
        _list(out, key, vals)
    return out


def joint_states(msg: Any) -> dict:
    """sensor_msgs/JointState -> ``joint_states`` payload (rad, rad/s, N*m)."""
    out: dict = {"name": list(msg.name)}
    return _checked(out, position=msg.position, velocity=msg.velocity, effort=msg.effort)


def actuator_health(msg: Any) -> dict:
    """sigma_interfaces/ActuatorHealth -> ``actuator_health`` payload.

    ``temperature`` is the winding (hottest) temperature [degC]; the housing temperature rides along as the
    extra field ``housing_temperature``.
    """
    out: dict = {"name": list(msg.name)}
    _checked(out, temperature=msg.winding_temperature, current=msg.current, voltage=msg.supply_voltage)
    housing = [float(v) for v in msg.housing_temperature]
    if all(math.isfinite(v) for v in housing):
        out["housing_temperature"] = housing
    return out


def battery(msg: Any) -> dict:
    """sensor_msgs/BatteryState -> ``battery`` payload (V, A, Ah, Ah, fraction, degC)."""
    out: dict = {"power_supply_status": int(msg.power_supply_status), "present": bool(msg.present)}
    for key, value in (
        ("voltage", msg.voltage),
        ("current", msg.current),
        ("charge", msg.charge),
        ("capacity", msg.capacity),
        ("percentage", msg.percentage),
        ("temperature", msg.temperature),
    ):
        _scalar(out, key, value)
    return out


def imu(msg: Any) -> dict:
    """sensor_msgs/Imu -> ``imu`` payload (orientation x, y, z, w)."""
    return _checked(
        {},
        orientation=_quat(msg.orientation),
        angular_velocity=_vec(msg.angular_velocity),
        linear_acceleration=_vec(msg.linear_acceleration),
    )


def odom(msg: Any) -> dict:
    """nav_msgs/Odometry -> ``odom`` payload (pose in the odom frame, twist in the base frame)."""
    p = msg.pose.pose
    t = msg.twist.twist
    out: dict = {"frame_id": msg.header.frame_id, "child_frame_id": msg.child_frame_id}
    return _checked(out, position=_vec(p.position), orientation=_quat(p.orientation), linear=_vec(t.linear),
                    angular=_vec(t.angular))


def _fault(f: Any) -> dict:
    return {
        "code": int(f.code),
        "rule": f.rule,
        "source": f.source,
        "cause": f.cause,
        "severity": int(f.severity),
        "latched": bool(f.latched),
        "value": float(f.value) if math.isfinite(f.value) else None,
        "limit": float(f.limit) if math.isfinite(f.limit) else None,
        "since": stamp_seconds(f.since),
    }


def safety_status(msg: Any) -> dict:
    """sigma_interfaces/SafetyStatus -> event data."""
    out = {
        "level": int(msg.level),
        "authority": int(msg.authority),
        "brake_engaged": bool(msg.brake_engaged),
        "active_faults": [_fault(f) for f in msg.active_faults],
        "sequence": int(msg.sequence),
    }
    _scalar(out, "speed_scale", msg.speed_scale)
    _scalar(out, "torque_scale", msg.torque_scale)
    return out


def safety_event(msg: Any, recording: str = "") -> dict:
    """sigma_interfaces/SafetyEvent -> event data; ``recording`` names the black-box MCAP file, if any."""
    return {
        "sequence": int(msg.sequence),
        "previous_level": int(msg.previous_level),
        "level": int(msg.level),
        "previous_authority": int(msg.previous_authority),
        "authority": int(msg.authority),
        "cause": msg.cause,
        "raised": [_fault(f) for f in msg.raised],
        "cleared": [_fault(f) for f in msg.cleared],
        "recording": recording or msg.recording,
    }


def task_status(msg: Any) -> dict:
    """sigma_interfaces/TaskStatus (tasks/status) -> ``task_status`` payload; the cloud moves its task record with
    it, ordering reports by ``term`` first (docs/tasks.md). ``distance_remaining`` is NaN when not navigating and
    then left out."""
    out = {"task_id": msg.task_id[:128], "kind": int(msg.kind), "state": int(msg.state), "step": msg.step[:128],
           "progress": min(max(float(msg.progress), 0.0), 1.0) if math.isfinite(msg.progress) else 0.0,
           "reason": msg.reason[:1024],
           "term": min(int(getattr(msg, "term", 0)), 2**53)}  # the leader's term (absent before sigma_interfaces r4)
    _scalar(out, "distance_remaining", msg.distance_remaining)
    return out


MAX_ENTRIES = MAX_LIST


def _rul(hours: float) -> float:
    if math.isnan(hours):
        return RUL_UNKNOWN
    return min(max(float(hours), 0.0), RUL_BEYOND_H)


def _window(t: Any, ref_s: float) -> float:
    """A window time as hours after the report (zero time = none); one already open counts as 0."""
    s = stamp_seconds(t)
    if s <= 0.0:
        return NO_WINDOW
    return min(max((s - ref_s) / 3600.0, 0.0), RUL_BEYOND_H)


def _unit(value: float) -> float:
    return min(max(float(value), 0.0), 1.0) if math.isfinite(value) else 0.0


def twin_health(msg: Any) -> dict:
    """sigma_interfaces/TwinHealth (twin/health) -> ``twin_health`` payload: one entry per component (actuators,
    then the battery); remaining life and window times in hours after the report's stamp (so a simulator on sim time
    still yields meaningful windows); estimated states flattened as ``component/state`` (at most 256)."""
    comps = [*msg.actuators, msg.battery][:MAX_ENTRIES]
    ref = stamp_seconds(msg.header.stamp)
    out: dict = {"name": [c.name[:128] for c in comps],
                 "health": [_unit(c.health) for c in comps], "confidence": [_unit(c.confidence) for c in comps],
                 "risk": [_unit(c.risk) for c in comps],
                 "rul_q05": [_rul(c.rul_q05) for c in comps], "rul_q50": [_rul(c.rul_q50) for c in comps],
                 "rul_q95": [_rul(c.rul_q95) for c in comps],
                 "window_opens": [_window(c.window_start, ref) for c in comps],
                 "window_closes": [_window(c.window_end, ref) for c in comps],
                 "dominant_mode": [c.dominant_mode[:128] for c in comps],
                 "spoofed_sensors": [s[:128] for s in msg.spoofed_sensors][:MAX_ENTRIES]}
    _scalar(out, "risk_horizon", msg.risk_horizon)
    names, values, std = [], [], []
    for c in comps:
        for n, v, d in zip(c.state_names, c.state_values, c.state_std, strict=False):
            if math.isfinite(v) and abs(v) <= 1e12 and len(names) < MAX_ENTRIES:
                names.append(f"{c.name}/{n}"[:128])
                values.append(float(v))
                std.append(float(d) if math.isfinite(d) and 0.0 <= d <= 1e12 else -1.0)
    out.update(state_names=names, state_values=values, state_std=std)
    out["reasons"] = [f"{c.name}: {r}"[:128] for c in comps for r in c.reasons][:64]
    return out


HUMAN_MAX_RANGE_M = 1e3  # the protocol's bound on a person's offset from the robot


def humans(msg: Any) -> dict:
    """sigma_interfaces/DetectedHumans -> ``humans`` payload: one entry per person (``name`` = tracker id), positions
    and velocities in the message's (robot base) frame. People with a non-finite or absurd (> 1 km) position are left
    out; confidence is clamped to [0, 1]; at most 256 people. An empty list still says "looked and saw nobody"."""
    people = [h for h in msg.humans if math.isfinite(h.position.x) and math.isfinite(h.position.y)
              and abs(h.position.x) <= HUMAN_MAX_RANGE_M and abs(h.position.y) <= HUMAN_MAX_RANGE_M][:MAX_ENTRIES]
    out: dict = {"frame_id": msg.header.frame_id[:128], "name": [h.id[:128] for h in people]}
    _checked(out, x=[h.position.x for h in people], y=[h.position.y for h in people],
             vx=[h.velocity.x for h in people], vy=[h.velocity.y for h in people],
             confidence=[_unit(h.confidence) for h in people])
    if math.isfinite(msg.sensor_range) and 0.0 <= msg.sensor_range <= HUMAN_MAX_RANGE_M:
        out["sensor_range"] = float(msg.sensor_range)
    if math.isfinite(msg.field_of_view) and 0.0 <= msg.field_of_view <= 2 * math.pi:
        out["field_of_view"] = float(msg.field_of_view)
    return out


MAPPERS = {
    "joint_states": joint_states,
    "actuator_health": actuator_health,
    "battery": battery,
    "imu": imu,
    "odom": odom,
    "safety_status": safety_status,
    "safety_event": safety_event,
    "task_status": task_status,
    "twin_health": twin_health,
    "humans": humans,
}
