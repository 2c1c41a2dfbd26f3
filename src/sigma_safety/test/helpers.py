"""Shared test helpers: the fixture URDF and a policy fed with healthy inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from sigma_safety.core.policy import SafetyConfig, SafetyPolicy
from sigma_safety.core.rules.geofence import Site, load_site
from sigma_safety.core.urdf import JointLimit, load_joint_limits

FIXTURES = Path(__file__).parent / "fixtures"
URDF = FIXTURES / "mini_humanoid.urdf"
SECRET = "correct horse battery staple"
UPRIGHT = (0.0, 0.0, 0.0, 1.0)
GRAVITY = (0.0, 0.0, 9.81)


def limits() -> dict[str, JointLimit]:
    """Joint limits of the fixture URDF."""
    return load_joint_limits(URDF)


def site() -> Site:
    """A 10 m x 10 m square around the origin with a keep-out box at x in [3, 4]."""
    return load_site({"sites": {"t": {"keep_in": {"room": [[-5, -5], [5, -5], [5, 5], [-5, 5]]},
                                      "keep_out": {"pit": [[3, -1], [4, -1], [4, 1], [3, 1]]}}}}, "t")


class Feeder:
    """Feeds a policy the inputs a healthy robot standing still would produce."""

    def __init__(self, policy: SafetyPolicy) -> None:
        self.policy = policy
        self.lim = policy.limits
        self.position = {n: (lim.lower + lim.upper) / 2 for n, lim in self.lim.items()}
        self.velocity = dict.fromkeys(self.lim, 0.0)
        self.effort = dict.fromkeys(self.lim, 0.0)
        self.temperature = dict.fromkeys(self.lim, 40.0)
        self.humans: list[tuple[float, float, float, float, float]] = []
        self.odom = (0.0, 0.0, 0.0, 0.0, 0.0)  # x, y, yaw, vx, vy
        self.orientation = UPRIGHT
        self.accel = GRAVITY
        self.confidence = {0: 0.9, 1: 0.9}

    def feed(self, now: float, after: Callable[[str], object] | None = None) -> None:
        """One round of every input at time ``now``; ``after(topic)`` is called after each message (as the node
        evaluates after each)."""
        p, names = self.policy, list(self.lim)
        done = after or (lambda _topic: None)
        p.update_joints(names, [self.position[n] for n in names], [self.velocity[n] for n in names],
                        [self.effort[n] for n in names], now, stamp=now)
        done("joint_states")
        p.update_imu(self.orientation, self.accel, now)
        done("imu")
        p.update_actuators(names, [self.temperature[n] for n in names], [1.0] * len(names), now)
        done("actuator_health")
        p.update_humans(self.humans, now)
        done("humans")
        x, y, yaw, vx, vy = self.odom
        p.update_odom(x, y, (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)), vx, vy, 0.0, now)
        done("odom")
        p.update_battery(now)
        done("battery_state")
        for source, c in self.confidence.items():
            p.update_policy_health(source, c, now)
            done("policy_health")

    def run(self, start: float, seconds: float, dt: float = 0.02) -> float:
        """Feed and evaluate every ``dt`` from ``start`` for ``seconds``; return the end time."""
        t = start
        while t < start + seconds - 1e-9:
            t += dt
            self.feed(t)
            self.policy.evaluate(t)
        return t


def make_policy(config: SafetyConfig | None = None, *, with_site: bool = True,
                secret: str | None = SECRET) -> tuple[SafetyPolicy, Feeder, float]:
    """A policy warmed up with healthy inputs (both AIs qualified); returns (policy, feeder, now)."""
    policy = SafetyPolicy(config or SafetyConfig(), limits(), now=0.0, site=site() if with_site else None,
                          reset_secret=secret.encode() if secret else None)
    feeder = Feeder(policy)
    now = feeder.run(0.0, 0.2)
    return policy, feeder, now
