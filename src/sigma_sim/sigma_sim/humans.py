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
# Yielding. A walker that waits for a robot while the robot stops for the walker is a deadlock (the robot's safety
# supervisor stops it closer than ~1.7 m to a person, and a walker waits 1.5 m away). People resolve it: after a
# bounded wait they step aside out of the robot's line of travel, let it pass, and go on — or turn back.
PATIENCE = 3.0  # s a walker waits for a robot in its way (or a robot stopped next to it) before it yields
# m: where a yielding walker stands, measured across the robot's line of travel: beyond the distance at which the
# robot's speed-and-separation monitoring allows full speed (~2.0 m with sigma_safety's defaults), so it passes.
YIELD_CLEARANCE = 2.5
# m: a standing walker with a robot closer than this is in the robot's way (it slows or stops the robot)
IN_THE_WAY = 2.0
# m: a standing walker this far ahead of a robot and this close to its line of travel stands in its path (a robot
# that holds for people in its path stops a few metres before them, farther than IN_THE_WAY)
PATH_AHEAD = 4.0
PATH_HALF_WIDTH = 1.5
HOLD_LIMIT = 20.0  # s a walker stands aside for a robot that does not pass; then it turns back (next goal)


@dataclass
class Human:
    """One walker: follows its waypoints in a loop, picks random ones inside ``bounds``, or heads for a point.

    Ordinary walkers (loop, random) keep ``KEEP_CLEAR`` from robots and yield to a robot they have waited for
    ``PATIENCE`` seconds (they step aside, hold until their way is clear, and turn back after ``HOLD_LIMIT``)."""

    id: str
    position: np.ndarray  # (x, y) world [m]
    speed: float  # m/s
    waypoints: list[tuple[float, float]] = field(default_factory=list)
    mode: str = "loop"  # loop | random | approach
    bounds: tuple[float, float, float, float] = (-10.0, -10.0, 10.0, 10.0)  # xmin, ymin, xmax, ymax
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    _next: int = 0
    goal: np.ndarray | None = None
    waited: float = 0.0  # s waited for a robot so far
    aside: np.ndarray | None = None  # where the walker is stepping to, out of a robot's way
    held: float | None = None  # s standing aside so far (None: not standing aside)
    yields: int = 0  # times this walker stepped aside for a robot

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

    def step(self, dt: float, rng: np.random.Generator, robots: np.ndarray | None = None,
             headings: np.ndarray | None = None) -> None:
        """Walk for ``dt`` seconds towards the current goal, choosing the next one on arrival.

        ``robots``: (n, 2) robot positions, ``headings``: their yaws [rad] (the line a yielding walker steps out of;
        without them, the line from the robot to the walker). A walker in ``approach`` mode (the human_approach
        fault) ignores robots; the others keep clear, wait, and yield."""
        if self.goal is None:
            self.goal = self._pick_goal(rng)
        if self.mode == "approach":
            self._approach(dt)
            return
        robots = np.zeros((0, 2)) if robots is None else np.asarray(robots, dtype=float).reshape(-1, 2)
        if self.aside is not None:
            self._step_aside(dt, robots, headings)
        elif self.held is not None:
            self._hold(dt, rng, robots, headings)
        else:
            self._walk(dt, rng, robots, headings)

    # ---------------------------------------------------------------- behaviours
    def _approach(self, dt: float) -> None:
        """Straight at the goal (a robot), stopping ``APPROACH_STANDOFF`` from it."""
        assert self.goal is not None
        delta = self.goal - self.position
        dist = float(np.hypot(*delta))
        if dist <= APPROACH_STANDOFF:
            self.velocity = np.zeros(2)
            return
        if self._move(delta / dist * (dist - APPROACH_STANDOFF), dt):
            self.velocity = np.zeros(2)

    def _walk(self, dt: float, rng: np.random.Generator, robots: np.ndarray, headings: np.ndarray | None) -> None:
        assert self.goal is not None
        blocker = self._blocked(self.goal, dt, robots)
        if blocker is not None:
            self._wait(dt, robots, headings, blocker)
            return
        self.waited = 0.0
        if self._move(self.goal - self.position, dt):
            self.goal = self._pick_goal(rng)

    def _step_aside(self, dt: float, robots: np.ndarray, headings: np.ndarray | None) -> None:
        assert self.aside is not None
        blocker = self._blocked(self.aside, dt, robots)
        if blocker is not None:  # another robot is in the way out: wait for it, then yield to it instead
            self._wait(dt, robots, headings, blocker)
            return
        if self._move(self.aside - self.position, dt):
            self.aside, self.held, self.waited = None, 0.0, 0.0

    def _hold(self, dt: float, rng: np.random.Generator, robots: np.ndarray, headings: np.ndarray | None) -> None:
        """Stand aside until the way to the goal is clear of robots; turn back after ``HOLD_LIMIT``."""
        assert self.held is not None and self.goal is not None
        self.held += dt
        if self._way_clear(self.goal, robots):
            self.held = None
            self._walk(dt, rng, robots, headings)
            return
        if self.held >= HOLD_LIMIT:
            self.held, self.waited = None, 0.0
            self.goal = self._pick_goal(rng)  # the robot does not pass: go elsewhere
            self._walk(dt, rng, robots, headings)
            return
        self.velocity = np.zeros(2)
        robot = self._in_the_way_of(robots, headings)
        if robot is not None:  # a robot came this way, or waits for this walker to leave its path: yield to it too
            self._wait(dt, robots, headings, robot)
        else:
            self.waited = 0.0

    # ---------------------------------------------------------------- helpers
    def _move(self, delta: np.ndarray, dt: float) -> bool:
        """Walk along ``delta`` at most ``speed * dt``; True when its end was reached."""
        dist = float(np.hypot(*delta))
        if dist <= self.speed * dt:
            self.position = self.position + delta
            self.velocity = delta / dt if dt > 0 else np.zeros(2)
            return True
        self.velocity = delta / dist * self.speed
        self.position = self.position + self.velocity * dt
        return False

    def _blocked(self, target: np.ndarray, dt: float, robots: np.ndarray) -> int | None:
        """The robot that the next step towards ``target`` would bring closer than ``KEEP_CLEAR`` (None if none)."""
        if not len(robots) or dt <= 0:
            return None
        delta = target - self.position
        dist = float(np.hypot(*delta))
        nxt = self.position + (delta / dist * min(self.speed * dt, dist) if dist > 0 else 0.0)
        now_d = np.hypot(*(robots - self.position).T)
        new_d = np.hypot(*(robots - nxt).T)
        closing = (new_d < KEEP_CLEAR) & (new_d < now_d)
        return int(np.argmin(np.where(closing, now_d, np.inf))) if closing.any() else None

    def _wait(self, dt: float, robots: np.ndarray, headings: np.ndarray | None, robot: int) -> None:
        """Stand still for robot ``robot``; after ``PATIENCE`` seconds, step out of its line of travel."""
        self.velocity = np.zeros(2)
        self.waited += dt
        if self.waited < PATIENCE:
            return
        self.waited, self.held = 0.0, None
        aside = self._aside_point(robots[robot], None if headings is None else float(headings[robot]))
        if self._closes_in(aside, robots):  # the way aside passes another robot: away from all of them instead
            aside = self._escape_point(robots)
        self.aside = aside
        self.yields += 1

    def _in_the_way_of(self, robots: np.ndarray, headings: np.ndarray | None) -> int | None:
        """A robot this standing walker is in the way of: closer than ``IN_THE_WAY``, or ahead of it within
        ``PATH_AHEAD`` and ``PATH_HALF_WIDTH`` of its line of travel (the nearest such robot; None if none)."""
        if not len(robots):
            return None
        rel = self.position - robots
        dist = np.hypot(*rel.T)
        blocking = dist < IN_THE_WAY
        if headings is not None:
            h = np.stack([np.cos(headings), np.sin(headings)], axis=1)
            along = np.sum(rel * h, axis=1)
            across = rel[:, 0] * h[:, 1] - rel[:, 1] * h[:, 0]
            blocking |= (along > 0) & (along < PATH_AHEAD) & (np.abs(across) < PATH_HALF_WIDTH)
        return int(np.argmin(np.where(blocking, dist, np.inf))) if blocking.any() else None

    def _aside_point(self, robot: np.ndarray, heading: float | None) -> np.ndarray:
        """``YIELD_CLEARANCE`` across the robot's line of travel, on the walker's side of it, inside the bounds."""
        rel = self.position - robot
        if heading is None:
            heading = math.atan2(rel[1], rel[0]) if np.hypot(*rel) > 1e-9 else 0.0
        along_axis = np.array([math.cos(heading), math.sin(heading)])
        across_axis = np.array([-along_axis[1], along_axis[0]])
        along, across = float(rel @ along_axis), float(rel @ across_axis)
        x0, y0, x1, y1 = self.bounds
        sides = [1.0, -1.0] if across >= 0 else [-1.0, 1.0]
        for side in sides:  # the walker's own side first; the other one if that leaves the walkable area
            point = robot + along * along_axis + side * max(abs(across), YIELD_CLEARANCE) * across_axis
            if x0 <= point[0] <= x1 and y0 <= point[1] <= y1:
                return point
        return np.clip(point, (x0, y0), (x1, y1))

    def _escape_point(self, robots: np.ndarray) -> np.ndarray | None:
        """``YIELD_CLEARANCE`` away in the direction (16 around, straight away from each robot, across each robot's
        bearing, between each two robots' bearings; inside the bounds) whose straight way comes closer to no robot
        within ``KEEP_CLEAR`` and whose end is farthest from the nearest robot; None when every way is blocked
        (the walker waits once more). Stepping aside from one robot towards another was a deadlock: a walker between
        two robots that stopped for it waited, or went to and fro, for ever (a third of such placements in
        ``bench/walkers_between_robots.py``)."""
        x0, y0, x1, y1 = self.bounds
        rel = self.position - robots
        away = rel / np.maximum(np.hypot(*rel.T), 1e-9)[:, None]  # unit vectors from each robot to the walker
        ways = [np.array([math.cos(a), math.sin(a)]) for a in np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)]
        ways += [u for u in away] + [np.array([-u[1], u[0]]) * side for u in away for side in (1.0, -1.0)]
        ways += [away[i] + away[j] for i in range(len(away)) for j in range(i + 1, len(away))]  # bisectors
        best, best_gap = None, -math.inf
        for way in ways:
            norm = float(np.hypot(*way))
            if norm < 1e-6:
                continue
            point = self.position + YIELD_CLEARANCE * way / norm
            if not (x0 <= point[0] <= x1 and y0 <= point[1] <= y1) or self._closes_in(point, robots):
                continue
            gap = float(np.min(np.hypot(*(robots - point).T)))
            if gap > best_gap:
                best, best_gap = point, gap
        return best

    def _passing_distances(self, target: np.ndarray, robots: np.ndarray) -> np.ndarray:
        """Each robot's distance to the straight way from here to ``target`` (its closest point on the segment)."""
        seg = target - self.position
        length2 = float(seg @ seg)
        t = np.clip(((robots - self.position) @ seg) / length2, 0.0, 1.0) if length2 > 0 else np.zeros(len(robots))
        return np.hypot(*(robots - (self.position + t[:, None] * seg)).T)

    def _closes_in(self, target: np.ndarray, robots: np.ndarray) -> bool:
        """The straight way to ``target`` passes some robot closer than ``KEEP_CLEAR`` and closer than it is now."""
        if not len(robots):
            return False
        passing = self._passing_distances(target, robots)
        now = np.hypot(*(robots - self.position).T)
        return bool(np.any((passing < KEEP_CLEAR) & (passing < now - 1e-6)))

    def _way_clear(self, target: np.ndarray, robots: np.ndarray) -> bool:
        """No robot within ``IN_THE_WAY`` of the straight way from here to ``target`` (it has passed)."""
        return not len(robots) or bool(np.all(self._passing_distances(target, robots) >= IN_THE_WAY))


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
