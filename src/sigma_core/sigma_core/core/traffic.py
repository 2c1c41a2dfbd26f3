"""Traffic: robots keep a separation from each other, and the robot yields to people in its path.

Chosen scheme — **path claims with a fixed right of way** (in the spirit of Open-RMF's traffic schedule, reduced to
what each robot can decide on its own), not ORCA: ORCA's reciprocal velocity obstacles give smooth passing in open
space but symmetric agents in a one-robot-wide aisle stop face to face (the known ORCA deadlock), and it needs
velocities from every peer at control rate. Here:

- every robot publishes its **route**: its position, then the rest of its planned path (only its position while it
  holds); the first ``lookahead`` metres of it are its **claim**;
- when two claims come closer than ``separation``, the robot **without right of way yields** (holds); if its own
  position lies within ``separation`` of the other's claim, it **clears out** — drives to the nearest free cell at
  least ``separation`` (plus a cell) from the other's whole route, reachable without coming closer than
  ``separation`` to any robot (``refuge``) — and waits there until the claims no longer conflict;
- an **idle** robot (no task) ranks below every working robot: standing within ``separation`` of another robot's
  claim, it clears out the same way (``in_the_way_of``);
- right of way is a total order (robot id, natural order), so in every conflict exactly one robot keeps going and a
  cycle of robots waiting on each other cannot form; a robot that clears out of an aisle leaves it to the other;
- independent of claims, no robot drives to a point closer than ``separation`` to another robot's body — to
  anywhere that robot may be by now: its reported position moved on along its route at its estimated speed for the
  position's age (``peer_latency`` on arrival plus the time since), so two robots closing in on each other with
  positions a few hundred milliseconds old do not both take the same last metre; such a hold lasts at least
  ``separation_dwell`` (no stop-go flicker); a robot that holds for one that does not move away replans around it
  with ``separation + ROUTE_MARGIN``.

People are not cooperative: a person inside the path corridor closer than ``human_yield_distance`` makes the robot
hold (yield); a person who keeps standing there (e.g. waiting for the robot to pass) for ``yield_timeout`` is routed
around with ``human_clearance`` (the executor replans with the person as an obstacle), so neither waits forever.
All of this is coordination for efficiency; the safety supervisor's separation rules stay the last word.
Pure: plain values, time passed in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from sigma_ros_common.params import param, require

Point = tuple[float, float]

# [m] a robot holds when its path comes within the separation of another robot this far ahead (its stopping distance
# at cruise speed and the control latency, with room to spare)
SPACING_AHEAD = 0.3

# [m] added to the separation when routing around a robot: a planned path keeps cell centres outside the disc, and
# its line-of-sight shortcuts may pass up to half a cell diagonal (0.18 m at 0.25 m cells) closer; without the margin
# a path that grazes the disc is held by the separation rule again (a standoff seen in the seeded encounters).
ROUTE_MARGIN = 0.2


@dataclass(frozen=True)
class TrafficParams:
    """Separation between robots and yielding to people."""

    separation: float = param(1.5, unit="m", low=0.3, high=10.0,
                              description="robots keep at least this centre distance from each other")
    lookahead: float = param(3.0, unit="m", low=0.5, high=30.0,
                             description="length of its path ahead a robot claims")
    peer_max_age: float = param(2.0, unit="s", low=0.1, high=60.0,
                                description="a peer's claim older than this is ignored (the peer left)")
    human_yield_distance: float = param(2.5, unit="m", low=0.0, high=20.0,
                                        description="a person in the path corridor closer than this: hold (yield)")
    path_corridor: float = param(0.8, unit="m", low=0.1, high=5.0,
                                 description="half-width of the path corridor in which a person counts as in the way")
    human_standing_speed: float = param(0.3, unit="m/s", low=0.0, high=2.0,
                                        description="a person slower than this is standing (routed around after the "
                                                    "timeout)")
    human_clearance: float = param(1.8, unit="m", low=0.3, high=10.0,
                                   description="centre distance kept from a standing person when routing around")
    yield_timeout: float = param(4.0, unit="s", low=0.1, high=300.0,
                                 description="after holding this long for a person or robot, replan around it")
    yield_limit: float = param(600.0, unit="s", low=1.0, high=3600.0,
                               description="navigation fails after holding this long in a row for traffic")
    peer_latency: float = param(0.4, unit="s", low=0.0, high=5.0,
                                description="assumed age of a peer's position when it arrives (route period, mesh "
                                            "relay period, transport): a moving peer is kept apart from where it "
                                            "may be by now along its route")
    separation_dwell: float = param(0.3, unit="s", low=0.0, high=5.0,
                                    description="a hold for separation lasts at least this long (no stop-go "
                                                "flicker toward a peer that moves)")

    def __post_init__(self) -> None:
        require(self.human_clearance >= self.path_corridor, "human_clearance must be at least path_corridor")


@dataclass(frozen=True)
class Peer:
    """Another robot's latest route: its position first, then the path it intends to drive."""

    robot_id: str
    route: tuple[Point, ...]
    received: float                     # on the caller's clock
    speed: float = 0.0                  # [m/s] estimated from its recent positions (0: standing or not known yet)

    @property
    def position(self) -> Point:
        return self.route[0]

    def claim(self, lookahead: float) -> tuple[Point, ...]:
        """The first ``lookahead`` metres of the route."""
        return claim_along(self.route[0], self.route, 1, lookahead)

    def reach(self, now: float, latency: float, lookahead: float) -> tuple[Point, ...]:
        """Where along its route the robot may be by ``now``: from the reported position as far as ``speed`` takes
        it in the position's age (``latency`` on arrival, plus the time since), at most ``lookahead`` metres."""
        far = min(self.speed * max(0.0, now - self.received + latency), lookahead)
        return claim_along(self.route[0], self.route, 1, far) if far > 0.01 else (self.route[0],)


@dataclass(frozen=True)
class Person:
    """A detected person in the map frame with its velocity [m, m/s]."""

    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0


@dataclass(frozen=True)
class Advice:
    """What traffic allows this tick."""

    go: bool                                        # False: hold (yield)
    reason: str                                     # why not, in words ("" when go)
    clear_of: tuple[tuple[Point, ...], ...]         # routes of right-of-way robots whose claim this robot stands in
    obstacles: tuple[tuple[float, float, float], ...]   # (x, y, radius) to route around after the yield timeout
    nearest_robot: float                            # [m] centre distance to the nearest live peer (inf: none)
    spacing: bool = False                           # held (also) to keep the separation from a robot's body


def natural_key(robot_id: str) -> tuple:
    """Sort key in natural order ("r2" before "r10")."""
    parts = tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", robot_id))
    return (parts, robot_id)           # the text itself breaks ties ("r1" / "r01"): a strict total order


def has_right_of_way(me: str, other: str) -> bool:
    """True if robot ``me`` goes first in a conflict with ``other`` (a total order: lower natural id first)."""
    return natural_key(me) < natural_key(other)


def claim_along(position: Point, waypoints: tuple[Point, ...], index: int, length: float) -> tuple[Point, ...]:
    """``position``, then the path from ``waypoints[index]`` on, cut at ``length`` metres along it."""
    out = [position]
    left = length
    prev = position
    for k in range(max(index, 0), len(waypoints)):
        p = waypoints[k]
        d = math.dist(prev, p)
        if d >= left:
            t = left / d if d > 0 else 0.0
            out.append((prev[0] + t * (p[0] - prev[0]), prev[1] + t * (p[1] - prev[1])))
            break
        out.append(p)
        left -= d
        prev = p
    return tuple(out)


def _point_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / den))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segment_segment(a: Point, b: Point, c: Point, d: Point) -> float:
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return 0.0
    return min(_point_segment(a, c, d), _point_segment(b, c, d), _point_segment(c, a, b), _point_segment(d, a, b))


def point_polyline(p: Point, line: tuple[Point, ...]) -> float:
    """Distance from ``p`` to a polyline (a single point counts as a polyline)."""
    if len(line) == 1:
        return math.dist(p, line[0])
    return min(_point_segment(p, line[k], line[k + 1]) for k in range(len(line) - 1))


def polyline_distance(a: tuple[Point, ...], b: tuple[Point, ...]) -> float:
    """Smallest distance between two polylines."""
    if len(a) == 1:
        return point_polyline(a[0], b)
    if len(b) == 1:
        return point_polyline(b[0], a)
    return min(_segment_segment(a[i], a[i + 1], b[j], b[j + 1]) for i in range(len(a) - 1) for j in range(len(b) - 1))


def first_approach(claim: tuple[Point, ...], target: Point | tuple[Point, ...], radius: float,
                   step: float = 0.1) -> float:
    """Distance along ``claim`` to the first point closer than ``radius`` to ``target`` (a point, or a polyline of
    points) *and* closer than the start (moving away from something already near is allowed); inf if none."""
    line = (target,) if isinstance(target[0], float | int) else target
    start = point_polyline(claim[0], line)
    travelled = 0.0
    for k in range(len(claim) - 1):
        a, b = claim[k], claim[k + 1]
        seg = math.dist(a, b)
        n = max(1, math.ceil(seg / step))
        for i in range(1, n + 1):
            t = i / n
            p = (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            d = point_polyline(p, line)
            if d < radius and d < start - 1e-3:
                return travelled + t * seg
        travelled += seg
    return math.inf


def _approaches(claim: tuple[Point, ...], target: Point, margin: float = 0.2) -> bool:
    """True if driving along ``claim`` brings the robot at least ``margin`` closer to ``target`` than it is now."""
    return len(claim) > 1 and point_polyline(target, claim) < math.dist(claim[0], target) - margin


def advise(me: str, claim: tuple[Point, ...], peers: list[Peer], people: list[Person], now: float,
           params: TrafficParams, clearing: bool = False) -> Advice:
    """Whether the robot ``me`` may drive along ``claim`` now (claim[0] = its position), and what to avoid.

    ``clearing``: the robot is driving out of a right-of-way robot's claim (giving way does not hold it then)."""
    p = params
    here = claim[0]
    reasons: list[str] = []
    spacing = False
    clear_of: list[tuple[Point, ...]] = []
    obstacles: list[tuple[float, float, float]] = []
    nearest = math.inf
    near = claim_along(here, claim, 1, SPACING_AHEAD + 0.1)   # only the next metres matter to the spacing rule
    for peer in peers:
        if now - peer.received > p.peer_max_age or peer.robot_id == me:
            continue
        dist = math.dist(here, peer.position)
        nearest = min(nearest, dist)
        obstacles.append((peer.position[0], peer.position[1], p.separation + ROUTE_MARGIN))
        ahead = first_approach(near, peer.reach(now, p.peer_latency, p.lookahead), p.separation)
        if ahead < SPACING_AHEAD:
            spacing = True
            reasons.append(f"robot {peer.robot_id} at {dist:.1f} m: keeping {p.separation} m separation")
        if clearing or has_right_of_way(me, peer.robot_id) or not _approaches(claim, peer.position):
            continue                  # right of way, or driving away from it (leading it the same way): no conflict
        theirs = peer.claim(p.lookahead)
        if len(claim) > 1 and polyline_distance(claim, theirs) < p.separation:
            reasons.append(f"giving way to robot {peer.robot_id} (its path is within {p.separation} m of mine)")
            if len(theirs) > 1 and point_polyline(here, theirs) < p.separation:
                clear_of.append(peer.route)
    for person in people:
        ahead = first_approach(claim, (person.x, person.y), p.path_corridor)
        if ahead < p.human_yield_distance:
            dist = math.dist(here, (person.x, person.y))
            reasons.append(f"yielding to a person {dist:.1f} m ahead in the path")
            if math.hypot(person.vx, person.vy) < p.human_standing_speed:
                obstacles.append((person.x, person.y, p.human_clearance))
    return Advice(not reasons, "; ".join(reasons), tuple(clear_of), tuple(obstacles), nearest, spacing)


def in_the_way_of(me: str, here: Point, peers: list[Peer], now: float,
                  params: TrafficParams) -> tuple[tuple[Point, ...], ...]:
    """Routes of the live robots whose claim passes within ``separation`` of an idle robot standing at ``here``
    (an idle robot ranks below every robot that has work: it makes way for all of them)."""
    p = params
    return tuple(peer.route for peer in peers
                 if peer.robot_id != me and now - peer.received <= p.peer_max_age and len(peer.route) > 1
                 and point_polyline(here, peer.claim(p.lookahead)) < p.separation)


def refuge(free: Callable[[int, int], bool], center: Callable[[int, int], Point], start: tuple[int, int],
           avoid: tuple[tuple[Point, ...], ...], others: list[Point], distance: float,
           max_cells: int = 20000, approach: float | None = None) -> Point | None:
    """Nearest free cell (breadth-first over cells where ``free(i, j)``) at least ``distance`` from every polyline in
    ``avoid`` and from every robot in ``others``; its centre, or None within ``max_cells``. The search never passes
    closer to another robot than ``approach`` (default ``distance``), nor closer than the robot is now if it is
    nearer already (it cannot drive through it): with ``approach`` = the separation, a robot in a corner whose way
    out passes a little nearer to the other than it stands now still gets out (a standoff of the old rule, which
    never let the way out come nearer at all)."""

    def gap(c: Point) -> float:
        return min((math.dist(c, o) for o in others), default=math.inf)

    floor = min(distance if approach is None else approach, gap(center(*start))) - 1e-9
    seen = {start}
    queue = [start]
    head = 0
    while head < len(queue) and head < max_cells:
        i, j = queue[head]
        head += 1
        c = center(i, j)
        if free(i, j) and gap(c) >= distance and all(point_polyline(c, line) >= distance for line in avoid):
            return c
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            n = (i + di, j + dj)
            if n not in seen and free(*n) and gap(center(*n)) >= floor:
                seen.add(n)
                queue.append(n)
    return None
