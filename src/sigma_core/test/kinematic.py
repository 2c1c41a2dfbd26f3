"""A kinematic stand-in for the robot, for pure-core tests only (the process tests use the real MuJoCo simulator).

It integrates the pipeline's own commands (unicycle base, arms slewing to targets, an optional safety view) so the
behaviour trees can be ticked in closed loop at simulated time, deterministically and fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sigma_core.core.perception import SafetyView
from sigma_core.core.pipeline import Pipeline, TickOutput
from sigma_core.core.sitemap import load_site
from sigma_ros_common.share import share_file

ARM_RATE = 1.5  # [rad/s]


def warehouse():
    return load_site(share_file("sigma_sim", "worlds", "warehouse.yaml"))


@dataclass
class KinematicRobot:
    x: float = -10.0
    y: float = 0.0
    yaw: float = 0.0
    joints: dict[str, float] = field(default_factory=lambda: {
        "left_shoulder_pitch": 0.0, "right_shoulder_pitch": 0.0, "left_elbow": 0.0, "right_elbow": 0.0})
    soc: float = 0.8
    charging: bool = False
    authority: int = 1           # what "safety" allows
    speed_scale: float = 1.0
    humans: list = field(default_factory=list)
    odom_alive: bool = True
    payload: float = 0.0
    log: list[TickOutput] = field(default_factory=list)

    def feed(self, p: Pipeline, now: float) -> None:
        if self.odom_alive:
            p.perception.update_odom(self.x, self.y, self.yaw, 0.0, 0.0, now)
        p.perception.update_joints(list(self.joints), list(self.joints.values()), now)
        p.perception.update_humans(list(self.humans), now)
        p.perception.update_battery(self.soc, self.charging, now)
        p.perception.update_safety(SafetyView(0 if self.speed_scale == 1 else 1, self.authority, self.speed_scale,
                                              self.authority == 2, frozenset()), now)

    def apply(self, out: TickOutput, dt: float) -> None:
        if out.payload_request is not None:
            self.payload = out.payload_request
        if out.command is None or out.channel is None:
            return
        if (out.channel == "primary_ai" and self.authority > 0) or (out.channel == "edge_ai" and self.authority > 1):
            return   # the gate would refuse it
        v = out.command.vx * self.speed_scale
        self.yaw = math.atan2(math.sin(self.yaw + out.command.wz * dt), math.cos(self.yaw + out.command.wz * dt))
        self.x += v * math.cos(self.yaw) * dt
        self.y += v * math.sin(self.yaw) * dt
        for n, t in (out.command.joints or {}).items():
            cur = self.joints.get(n, 0.0)
            rate = min(ARM_RATE, out.command.joint_speed)
            self.joints[n] = cur + max(-rate * dt, min(rate * dt, t - cur))
        docked = any(math.hypot(self.x - d[0], self.y - d[1]) < 0.5 for d in ((-13.5, -8.5), (-13.5, 8.5)))
        self.charging = docked and abs(out.command.vx) < 0.05
        if self.charging:
            self.soc = min(1.0, self.soc + 0.01 * dt)


def run(p: Pipeline, robot: KinematicRobot, t0: float, seconds: float, dt: float = 0.05, until=None) -> float:
    """Tick the pipeline against the kinematic robot; returns the time reached."""
    t = t0
    while t < t0 + seconds:
        robot.feed(p, t)
        out = p.tick(t)
        if out.payload_request is not None:
            p.confirm_payload(out.payload_request)
        robot.apply(out, dt)
        robot.log.append(out)
        t += dt
        if until is not None and until(out):
            break
    return t
