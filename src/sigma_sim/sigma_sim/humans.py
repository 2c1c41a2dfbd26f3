"""Simulated people walking in the world, and what a robot's human detector reports about them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MAX_WALK_SPEED = 1.6  # m/s, a brisk adult walk
# m: ordinary walkers wait rather than come closer to a robot's centre. People give a moving robot room; 1.5 m
# also keeps an arm's reach plus a stopping distance between a robot and a walker that waits for it (at 0.8 m a
# robot still rolling towards a waiting person reached the kinematic capsule, and the contact flung its arms).
KEEP_CLEAR = 1.5
# m: a person walking straight at a robot (human_approach) stops this far from its centre, face to face, instead
# of walking into it; the kinematic capsule would otherwise fling the robot's arms, which no real person does.
APPROACH_STANDOFF = 1.0


@dataclass
class Human:
    """One walker: follows its waypoints in a loop, picks random ones inside ``bounds``, or heads for a point."""

    id: str
    position: np.ndarray  # (x, y) world [m]
    speed: float  # m/s
    waypoints: list[tuple[float, float]] = field(default_factory=list)
    mode: str = "loop"  # loop | random | approach
    bounds: tuple[float, float, float, float] = (-10.0, -10.0, 10.0, 10.0)  # xmin, ymin, xmax, ymax
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    _next: int = 0
    goal: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=float)
        if self.mode not in ("loop", "random", "approach"):
            raise ValueError(f"human {self.id}: unknown mode {self.mode!r} (loop, random, approach)")
        if not 0.0 <= self.speed <= 3.0:
            raise ValueError(f"human {self.id}: speed {self.speed} m/s out of [0, 3]")

    def _pick_goal(self, rng: np.random.Generator) -> np.ndarray:
        if self.mode == "random" or not self.waypoints:
            x0, y0, x1, y1 = self.bounds
            return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        goal = np.array(self.waypoints[self._next % len(self.waypoints)], dtype=float)
        self._next += 1
        return goal

    def step(self, dt: float, rng: np.random.Generator, robots: np.ndarray | None = None) -> None:
        """Walk for ``dt`` seconds towards the current goal, choosing the next one on arrival.

        Ordinary walkers wait rather than step closer than ``KEEP_CLEAR`` to a robot (``robots``: (n, 2) positions);
        a walker in ``approach`` mode (the human_approach fault) does not."""
        if self.goal is None:
            self.goal = self._pick_goal(rng)
        delta = self.goal - self.position
        if self.mode != "approach" and robots is not None and len(robots) and dt > 0:
            dist = float(np.hypot(*delta))
            nxt = self.position + (delta / dist * min(self.speed * dt, dist) if dist > 0 else 0.0)
            now_d = np.hypot(*(robots - self.position).T)
            new_d = np.hypot(*(robots - nxt).T)
            if np.any((new_d < KEEP_CLEAR) & (new_d < now_d)):
                self.velocity = np.zeros(2)
                return
        dist = float(np.hypot(*delta))
        if self.mode == "approach":
            if dist <= APPROACH_STANDOFF:
                self.velocity = np.zeros(2)
                return
            dist -= APPROACH_STANDOFF
            delta = delta / (dist + APPROACH_STANDOFF) * dist
        travel = self.speed * dt
        if dist <= travel:
            self.position = self.position + delta
            self.velocity = delta / dt if dt > 0 else np.zeros(2)
            if self.mode != "approach":
                self.goal = self._pick_goal(rng)
            else:
                self.velocity = np.zeros(2)
        else:
            self.velocity = delta / dist * self.speed
            self.position = self.position + self.velocity * dt


@dataclass(frozen=True)
class Detection:
    id: str
    x: float  # robot base frame [m]
    y: float
    vx: float
    vy: float
    confidence: float


def detect(
    humans: list[Human],
    robot_xy: np.ndarray,
    robot_yaw: float,
    robot_vel: np.ndarray,
    sensor_range: float,
    fov: float,
    pos_std: float,
    rng: np.random.Generator,
) -> list[Detection]:
    """Humans within ``sensor_range`` and the horizontal ``fov`` (centred on +x), in the base frame, with noise."""
    c, s = math.cos(robot_yaw), math.sin(robot_yaw)
    out = []
    for h in humans:
        d = h.position - robot_xy
        x, y = c * d[0] + s * d[1], -s * d[0] + c * d[1]
        r = math.hypot(x, y)
        if r > sensor_range or abs(math.atan2(y, x)) > fov / 2:
            continue
        dv = h.velocity - robot_vel
        vx, vy = c * dv[0] + s * dv[1], -s * dv[0] + c * dv[1]
        nx, ny = rng.normal(0.0, pos_std * (1.0 + r / sensor_range), 2)
        conf = float(np.clip(1.0 - 0.6 * r / sensor_range, 0.05, 1.0))
        out.append(Detection(h.id, x + nx, y + ny, vx, vy, conf))
    return out
