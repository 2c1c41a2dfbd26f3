"""Several robots' pipelines in closed loop on one map, pure and deterministic (kinematic stand-ins, simulated time):
each robot sees the others' routes as ``core_node`` publishes them (every ``ROUTE_EVERY`` ticks), and scripted
people through a detector with the real one's range and field of view. For traffic tests only; the process tests
use the real simulator."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from kinematic import KinematicRobot

from sigma_core.core.pipeline import CoreConfig, Pipeline
from sigma_core.core.sitemap import SiteMap
from sigma_core.core.tasks import Kind, State, StatusReport, TaskSpec

ROUTE_EVERY = 4          # ticks between published routes (core_node: 5 Hz at 20 Hz)
ROUTE_DELAY = 4          # ticks a route takes to arrive (the mesh relay republishes every 0.2 s, plus transport)
DETECT_RANGE = 8.0       # [m] the simulator's person detector
DETECT_FOV = 1.2         # [rad] either side of the heading
WAIT_BOUND = 60.0        # [s] no robot with work stands still longer in an encounter (a standoff held 300 s in CI)

# a scripted person: time -> map-frame (x, y, vx, vy), or None while absent
Walker = Callable[[float], tuple[float, float, float, float] | None]


@dataclass
class Fleet:
    """Robots, their pipelines, the routes they published, and what the judges need."""

    site: SiteMap
    starts: dict[str, tuple[float, float, float]]
    config: CoreConfig = field(default_factory=CoreConfig)
    dt: float = 0.05
    walkers: list[Walker] = field(default_factory=list)
    t: float = 0.0
    ticks: int = 0
    closest: float = math.inf                       # smallest centre distance between two robots seen
    closest_pair: tuple[str, str, float] = ("", "", 0.0)
    idle: str | None = None                         # a robot left without a task (encounters)
    route_delay: int = ROUTE_DELAY                  # ticks from a route's publication to its arrival at the others

    def __post_init__(self) -> None:
        self.robots = {r: KinematicRobot(x=x, y=y, yaw=yaw) for r, (x, y, yaw) in self.starts.items()}
        self.pipes = {r: Pipeline(self.site, self.config, r) for r in self.robots}
        self.routes = {r: ((b.x, b.y),) for r, b in self.robots.items()}
        self.in_flight: list[tuple[int, str, tuple]] = []     # (arrival tick, robot, route) published, not arrived
        self.reports: dict[str, list[StatusReport]] = {r: [] for r in self.robots}
        self.notes: dict[str, list[tuple[float, str]]] = {r: [] for r in self.robots}
        self.moved_at = {r: 0.0 for r in self.robots}     # last time each robot moved (while it had a task)
        self.longest_wait = {r: 0.0 for r in self.robots}  # longest time with a task and without moving [s]
        self._anchor = {r: (b.x, b.y) for r, b in self.robots.items()}

    def submit(self, robot: str, spec: TaskSpec) -> list[StatusReport]:
        out = self.pipes[robot].submit_task(spec, self.t)
        self.reports[robot] += out
        return out

    def busy(self, robot: str) -> bool:
        return self.pipes[robot].executor.spec is not None

    def final(self, robot: str) -> StatusReport | None:
        done = [s for s in self.reports[robot] if s.state in (State.SUCCEEDED, State.FAILED, State.CANCELED)]
        return done[-1] if done else None

    def _people_for(self, b: KinematicRobot) -> list[tuple[float, float, float, float]]:
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        out = []
        for w in self.walkers:
            p = w(self.t)
            if p is None:
                continue
            dx, dy = p[0] - b.x, p[1] - b.y
            bx, by = c * dx + s * dy, -s * dx + c * dy
            if math.hypot(bx, by) <= DETECT_RANGE and abs(math.atan2(by, bx)) <= DETECT_FOV:
                vx, vy = p[2], p[3]     # the stand-in reports odometry at rest: relative = map velocity
                out.append((bx, by, c * vx + s * vy, -s * vx + c * vy))
        return out

    def step(self) -> None:
        t = self.t
        while self.in_flight and self.in_flight[0][0] <= self.ticks:
            _, rid, route = self.in_flight.pop(0)
            self.routes[rid] = route
        for rid, p in self.pipes.items():
            b = self.robots[rid]
            b.humans = self._people_for(b)
            b.feed(p, t)
            for other, route in self.routes.items():
                if other != rid:
                    p.perception.update_peer(other, list(route), t)
        for rid, p in self.pipes.items():
            out = p.tick(t)
            if out.payload_request is not None:
                p.confirm_payload(out.payload_request)
            self.robots[rid].apply(out, self.dt)
            if self.ticks % ROUTE_EVERY == 0 and out.route:
                self.in_flight.append((self.ticks + self.route_delay, rid, out.route))
            self.reports[rid] += out.statuses
            if out.traffic_note and (not self.notes[rid] or self.notes[rid][-1][1] != out.traffic_note):
                self.notes[rid].append((t, out.traffic_note))
        ids = list(self.robots)
        for i, a in enumerate(ids):
            ra = self.robots[a]
            for b in ids[i + 1:]:
                d = math.hypot(ra.x - self.robots[b].x, ra.y - self.robots[b].y)
                if d < self.closest:
                    self.closest, self.closest_pair = d, (a, b, t)
        for rid, b in self.robots.items():
            if not self.busy(rid) or math.dist((b.x, b.y), self._anchor[rid]) > 0.1:
                self._anchor[rid], self.moved_at[rid] = (b.x, b.y), t
            self.longest_wait[rid] = max(self.longest_wait[rid], t - self.moved_at[rid])
        self.t += self.dt
        self.ticks += 1

    def run(self, seconds: float, until: Callable[[Fleet], bool] | None = None) -> None:
        end = self.t + seconds
        while self.t < end:
            self.step()
            if until is not None and until(self):
                return


def _free_point(site: SiteMap, rng: random.Random, box=(-14.0, -9.0, 14.0, 9.0)) -> tuple[float, float]:
    while True:
        x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        if site.free_point(x, y):
            return (x, y)


def encounter(site: SiteMap, seed: int, robots: int, route_delay: int = ROUTE_DELAY) -> Fleet:
    """Seeded encounter: ``robots`` robots 1.6 to 2.6 m apart in a chain at random free places and headings, each sent
    to a different place (shelves, docks, points in the aisles) after a random delay of up to 4 s; one of them may
    stay idle (no task) where it stands. Routes arrive ``route_delay`` ticks after they were published."""
    rng = random.Random(seed)
    starts = [_free_point(site, rng)]
    while len(starts) < robots:
        a, d = rng.uniform(-math.pi, math.pi), rng.uniform(1.6, 2.6)
        p = (starts[-1][0] + d * math.cos(a), starts[-1][1] + d * math.sin(a))
        if site.free_point(*p) and all(math.dist(p, q) >= 1.6 for q in starts):
            starts.append(p)
    names = [f"r{k + 1}" for k in range(robots)]
    f = Fleet(site, {n: (*p, rng.uniform(-math.pi, math.pi)) for n, p in zip(names, starts, strict=True)},
              route_delay=route_delay)
    places = [*sorted(site.places), "6,0", "-6,0", "0,8", "0,-8", "-13,0", "13,-3", "-4,4", "4,-4"]
    goals = dict(zip(names, rng.sample(places, robots), strict=True))
    idle = rng.choice(names) if robots > 2 and rng.random() < 0.3 else None
    delays = {n: rng.uniform(0.0, 4.0) for n in names if n != idle}

    def step(f: Fleet) -> bool:
        for n, d in list(delays.items()):
            if f.t >= 1.0 + d:
                f.submit(n, TaskSpec(f"go-{n}", Kind.GO_TO, place=goals[n]))
                del delays[n]
        return not delays and all(f.final(n) is not None for n in names if n != idle)

    f.run(400, until=step)
    f.idle = idle
    return f


def judge(f: Fleet, separation: float) -> list[str]:
    """What went wrong in an encounter (empty: nothing)."""
    wrong = []
    for r in f.robots:
        if r == f.idle:
            continue
        final = f.final(r)
        if final is None or final.state != State.SUCCEEDED:
            wrong.append(f"{r}: {final.reason if final else 'not finished'} ({f.notes[r][-2:]})")
        if f.longest_wait[r] >= WAIT_BOUND:
            wrong.append(f"{r} stood {f.longest_wait[r]:.0f} s ({f.notes[r][-2:]})")
    if f.closest < separation - 0.1:
        a, b, t = f.closest_pair
        wrong.append(f"{a} and {b} {f.closest:.2f} m apart at {t:.1f} s")
    return wrong
