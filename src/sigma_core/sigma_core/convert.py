"""Message ↔ plain-value conversions of the core node (no node, no publishing)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import BatteryState, JointState
from std_msgs.msg import Header

from sigma_core.core.arbiter import Switch
from sigma_core.core.perception import SafetyView
from sigma_core.core.tasks import Kind, StatusReport, TaskSpec
from sigma_interfaces.msg import CommanderSwitch, SafetyStatus, Task, TaskStatus
from sigma_ros_common import cdr


def seconds(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def stamp(t: float) -> Time:
    sec = math.floor(t)
    return Time(sec=int(sec), nanosec=min(999_999_999, round((t - sec) * 1e9)))


def odom_values(m: Odometry) -> tuple[float, float, float, float, float]:
    """x, y, yaw, vx, wz of an odometry message (yaw from the quaternion)."""
    q, p = m.pose.pose.orientation, m.pose.pose.position
    return _odom(p.x, p.y, (q.x, q.y, q.z, q.w), m.twist.twist.linear.x, m.twist.twist.angular.z)


def path_xy(m: Path) -> list[tuple[float, float]]:
    """(x, y) of every pose of a route (the deserialized fallback of ``cdr.read_path_xy``)."""
    return [(q.pose.position.x, q.pose.position.y) for q in m.poses]


def odom_values_raw(raw: bytes) -> tuple[float, float, float, float, float]:
    """``odom_values`` of a serialized odometry message (``cdr.CdrError`` when it is not one)."""
    _, xyz, q, linear, angular = cdr.read_odometry(raw)
    return _odom(xyz[0], xyz[1], q, linear[0], angular[2])


def _odom(x: float, y: float, q: Sequence[float], vx: float, wz: float) -> tuple[float, float, float, float, float]:
    qx, qy, qz, qw = q
    return x, y, math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz)), vx, wz


def battery_values(m: BatteryState) -> tuple[float, bool]:
    return float(m.percentage), m.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING


def safety_view(m: SafetyStatus) -> SafetyView:
    return SafetyView(m.level, m.authority, m.speed_scale, m.brake_engaged, frozenset(f.code for f in m.active_faults))


def task_spec(m: Task, to_local: float) -> TaskSpec:
    """A Task message as plain values; ``to_local`` maps its wall-clock deadline onto the pipeline clock."""
    deadline = seconds(m.deadline)
    try:
        kind = Kind(m.kind)
    except ValueError:
        kind = m.kind          # refused by validation with the reason
    return TaskSpec(task_id=m.task_id, kind=kind, issuer=m.issuer, place=m.place, pickup=m.pickup,
                    dropoff=m.dropoff, payload_mass=m.payload_mass, charge_to=m.charge_to, duration=m.duration,
                    priority=m.priority, deadline=(deadline + to_local) if deadline > 0 else 0.0, term=int(m.term))


def status_msg(r: StatusReport, now: Time) -> TaskStatus:
    return TaskStatus(header=Header(stamp=now), task_id=r.task_id, kind=int(r.kind) & 0xFF, state=int(r.state),
                      step=r.step, progress=float(r.progress), distance_remaining=float(r.distance_remaining),
                      speed_limit=float(r.speed_limit), payload_limit=float(r.payload_limit),
                      commander=int(r.commander), reason=r.reason, term=int(r.term))


def switch_msg(s: Switch, now: Time) -> CommanderSwitch:
    return CommanderSwitch(header=Header(stamp=now), sequence=s.sequence, previous=int(s.previous),
                           current=int(s.current), reason=s.reason, trigger_delay=float(s.trigger_delay),
                           decision_id=s.decision_id)


def twist(vx: float, wz: float) -> Twist:
    t = Twist()
    t.linear.x, t.angular.z = float(vx), float(wz)
    return t


def joint_command(targets: dict[str, float], speed: float, now: Time) -> JointState:
    """Position targets, with a per-joint speed limit when ``speed`` is finite (contract: optional ``velocity``)."""
    velocity = [float(speed)] * len(targets) if math.isfinite(speed) else []
    return JointState(header=Header(stamp=now), name=list(targets), position=[float(v) for v in targets.values()],
                      velocity=velocity)


def route_path(route: tuple[tuple[float, float], ...], now: Time) -> Path:
    """A traffic route (position first, then the path ahead) as a ``nav_msgs/Path`` in the map frame."""
    path = Path(header=Header(stamp=now, frame_id="map"))
    for x, y in route:
        q = PoseStamped(header=path.header)
        q.pose.position.x, q.pose.position.y = float(x), float(y)
        q.pose.orientation.w = 1.0
        path.poses.append(q)
    return path
