"""Path tracker for the planar base: turn towards the next waypoint, drive when roughly aligned, slow at the goal.

Heading-first (not holonomic side-stepping) so the robot looks where it goes: the human detector sees ±1.2 rad
around +x, and the safety supervisor's separation monitoring needs to see people ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_ros_common.params import param


@dataclass(frozen=True)
class TrackerParams:
    """Gains and tolerances of the path tracker."""

    max_speed: float = param(0.6, unit="m/s", low=0.05, high=2.0, description="nominal cruise speed of the base")
    max_turn_rate: float = param(1.0, unit="rad/s", low=0.1, high=3.0, description="largest commanded yaw rate")
    heading_gain: float = param(2.0, unit="1/s", low=0.1, high=10.0, description="yaw rate per rad of heading error")
    turn_in_place_angle: float = param(0.6, unit="rad", low=0.05, high=3.0,
                                       description="heading error above which the base turns without driving")
    approach_gain: float = param(0.8, unit="1/s", low=0.1, high=5.0,
                                 description="speed per metre to the goal on the final approach")
    waypoint_radius: float = param(0.35, unit="m", low=0.05, high=2.0,
                                   description="an intermediate waypoint counts as passed within this distance")
    goal_tolerance: float = param(0.15, unit="m", low=0.02, high=1.0, description="arrived within this distance")
    yaw_tolerance: float = param(0.12, unit="rad", low=0.01, high=1.0, description="final heading tolerance")


@dataclass(frozen=True)
class TrackOutput:
    """One tracker step: base velocity in the base frame, distance to go, cross-track error, arrived."""

    vx: float
    wz: float
    index: int
    remaining: float
    cross_track: float
    arrived: bool


def wrap(a: float) -> float:
    """Angle wrapped to (-pi, pi]."""
    return math.atan2(math.sin(a), math.cos(a))


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / den))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def track(params: TrackerParams, pose: tuple[float, float, float], waypoints: tuple[tuple[float, float], ...],
          index: int, speed_limit: float, goal_yaw: float | None) -> TrackOutput:
    """Velocity towards ``waypoints[index]`` (index advances past reached waypoints)."""
    x, y, yaw = pose
    last = len(waypoints) - 1
    index = max(1, min(index, last)) if last >= 1 else 0
    while index < last and math.hypot(waypoints[index][0] - x, waypoints[index][1] - y) < params.waypoint_radius:
        index += 1
    target = waypoints[index]
    to_goal = math.hypot(waypoints[-1][0] - x, waypoints[-1][1] - y)
    remaining = math.hypot(target[0] - x, target[1] - y) + sum(
        math.dist(waypoints[k], waypoints[k + 1]) for k in range(index, last))
    cross = _segment_distance((x, y), waypoints[index - 1], target) if index >= 1 else to_goal
    limit = max(0.0, min(speed_limit, params.max_speed))
    if index == last and to_goal < params.goal_tolerance:
        if goal_yaw is None or abs(wrap(goal_yaw - yaw)) < params.yaw_tolerance:
            return TrackOutput(0.0, 0.0, index, 0.0, cross, True)
        wz = _clip(params.heading_gain * wrap(goal_yaw - yaw), params.max_turn_rate)
        return TrackOutput(0.0, wz, index, 0.0, cross, False)
    heading = math.atan2(target[1] - y, target[0] - x)
    err = wrap(heading - yaw)
    wz = _clip(params.heading_gain * err, params.max_turn_rate)
    if abs(err) > params.turn_in_place_angle:
        vx = 0.0
    else:
        vx = limit * math.cos(err) ** 2
        if index == last:
            vx = min(vx, params.approach_gain * to_goal + 0.05)
    return TrackOutput(vx, wz, index, remaining, cross, False)


def _clip(v: float, limit: float) -> float:
    return max(-limit, min(limit, v))
