"""ROS message -> uplink event payload (device protocol v1 channels). Messages are used as data only: no rclpy.

JSON has no NaN: a non-finite scalar (e.g. BatteryState's "unknown" NaN) is left out of the payload, and a list
holding one is sent empty with its field named in ``nonfinite`` (the protocol accepts empty lists).
"""

from __future__ import annotations

import math
from typing import Any

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
    it (docs/tasks.md). ``distance_remaining`` is NaN when not navigating and then left out."""
    out = {"task_id": msg.task_id[:128], "kind": int(msg.kind), "state": int(msg.state), "step": msg.step[:128],
           "progress": min(max(float(msg.progress), 0.0), 1.0) if math.isfinite(msg.progress) else 0.0,
           "reason": msg.reason[:1024]}
    _scalar(out, "distance_remaining", msg.distance_remaining)
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
}
