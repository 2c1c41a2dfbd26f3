"""Traffic routes over the signed swarm mesh (issue #13: robots share pose, velocity and intended path).

Pure (no rclpy, no clock of its own: times are passed in, wall-clock seconds, as the robots' clocks are synchronised
like the leases). ``fleet_tasks_node`` feeds ``RouteSender`` with its robot's ``traffic/route`` (sigma_core's
``nav_msgs/Path``: the robot's position first, then the path it plans) and broadcasts what it returns on the mesh
(``swarm/broadcast``, kind ``traffic_route``); it feeds ``PeerRoutes`` with what the other robots broadcast
(``swarm/broadcasts``) and republishes ``PeerRoutes.current`` for sigma_core on ``traffic/peers/<robot>/route``.

What is sent — dead reckoning, as distributed simulations do (IEEE 1278 DIS): the route (simplified with
Ramer-Douglas-Peucker), the robot's position and its velocity. A receiver moves the robot along its route at that
speed until the next message; the sender runs the same prediction and sends again only when

- the path ahead changed (a replan, a new task, holding → moving): some vertex of the new route lies farther than
  ``path_tolerance_m`` from the route last sent, or the goal moved;
- the predicted position is off by more than ``position_tolerance_m`` (the robot stopped, slowed, left its path);
- ``keepalive_s`` passed (a standing robot: one small message a second).

A route older than ``max_age_s`` (sender's stamp against the receiver's clock) or not renewed within it is
dropped, so a robot that left, crashed or lost the mesh disappears from the others' traffic picture; a message
older than the newest held from the same robot is ignored. Authenticity and replay are the mesh's business (every
frame is signed with the robot's key and checked against the cloud-signed roster, with a replay window per sender);
this layer adds only the staleness rules.

Wire form (``encode``/``decode``, at most 768 bytes, the mesh's payload limit): version (1), flags (1), vertex
count (2), stamp (float64, s), velocity x, y (float32, m/s, map frame), then the vertices as float32 pairs (map
frame, position first). Longer routes are cut after ``MAX_VERTICES`` (the nearest part matters most; flag bit 0).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from sigma_ros_common import cdr

Point = tuple[float, float]

KIND = "traffic_route"
VERSION = 1
HEADER = struct.Struct("<BBHdff")
MAX_PAYLOAD = 768
MAX_VERTICES = (MAX_PAYLOAD - HEADER.size) // 8
TRUNCATED = 1


class RouteError(ValueError):
    """A route payload that is not one (names what is wrong)."""


@dataclass(frozen=True)
class RouteMessage:
    """One robot's traffic state: where it is (``points[0]``), where it goes (the rest), how fast, when."""

    stamp: float
    velocity: Point
    points: tuple[Point, ...]
    truncated: bool = False

    @property
    def speed(self) -> float:
        return math.hypot(*self.velocity)


def encode(msg: RouteMessage) -> bytes:
    """The wire form of ``msg`` (cut after ``MAX_VERTICES`` vertices)."""
    points = msg.points[:MAX_VERTICES]
    flags = TRUNCATED if msg.truncated or len(msg.points) > MAX_VERTICES else 0
    body = struct.pack(f"<{2 * len(points)}f", *(c for p in points for c in p))
    return HEADER.pack(VERSION, flags, len(points), msg.stamp, *msg.velocity) + body


def decode(payload: bytes) -> RouteMessage:
    """A route payload back; RouteError naming the problem for anything else."""
    if len(payload) < HEADER.size:
        raise RouteError(f"traffic route payload of {len(payload)} bytes is shorter than its {HEADER.size}-byte header")
    version, flags, count, stamp, vx, vy = HEADER.unpack_from(payload)
    if version != VERSION:
        raise RouteError(f"traffic route version {version} is not {VERSION}")
    if count < 1 or len(payload) != HEADER.size + 8 * count:
        raise RouteError(f"traffic route says {count} vertices but carries {len(payload) - HEADER.size} bytes")
    values = struct.unpack_from(f"<{2 * count}f", payload, HEADER.size)
    if not all(math.isfinite(v) for v in (stamp, vx, vy, *values)):
        raise RouteError("traffic route has a non-finite stamp, velocity or vertex")
    points = tuple(zip(values[0::2], values[1::2], strict=True))
    return RouteMessage(stamp, (vx, vy), points, bool(flags & TRUNCATED))


def path_points(raw: bytes) -> list[Point]:
    """The (x, y) of every pose in a serialized ``nav_msgs/Path`` (as rclpy's ``raw=True`` subscription hands it
    over; ``sigma_ros_common.cdr.read_path_xy``) — without building ~6 Python message objects per pose: for
    sigma_core's routes (100-250 poses at 5 Hz) rclpy's deserialization cost ~20x the whole relay. RouteError for
    anything else."""
    try:
        return cdr.read_path_xy(raw)
    except cdr.CdrError as exc:
        raise RouteError(f"not a nav_msgs/Path: {exc}") from exc


def path_stamp(raw: bytes) -> float:
    """The header stamp [s] of a serialized ``nav_msgs/Path`` (CDR, little endian); RouteError for anything else."""
    if raw[:2] != b"\x00\x01" or len(raw) < 12:
        raise RouteError("not a little-endian CDR nav_msgs/Path")
    sec, nanosec = struct.unpack_from("<iI", raw, 4)
    return sec + nanosec * 1e-9


def simplify(points: Sequence[Point], tolerance: float) -> tuple[Point, ...]:
    """Ramer-Douglas-Peucker: the fewest vertices whose polyline stays within ``tolerance`` of ``points``."""
    if len(points) < 3:
        return tuple(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        worst, at = -1.0, -1
        for k in range(a + 1, b):
            d = _segment_distance(points[k], points[a], points[b])
            if d > worst:
                worst, at = d, k
        if worst > tolerance:
            keep[at] = True
            stack += [(a, at), (at, b)]
    return tuple(p for p, k in zip(points, keep, strict=True) if k)


def advance(points: Sequence[Point], distance: float) -> tuple[Point, ...]:
    """The route with its first point moved ``distance`` metres along it (passed vertices dropped)."""
    if distance <= 0.0 or len(points) < 2:
        return tuple(points)
    here = points[0]
    for k in range(1, len(points)):
        step = math.dist(here, points[k])
        if step >= distance:
            f = distance / step if step > 0 else 0.0
            moved = (here[0] + f * (points[k][0] - here[0]), here[1] + f * (points[k][1] - here[1]))
            return (moved, *points[k:])
        distance -= step
        here = points[k]
    return (points[-1],)


def predicted(msg: RouteMessage, now: float, max_extrapolation_s: float) -> tuple[Point, ...]:
    """Where a receiver shows the robot at ``now``: moved along its route at its speed since the stamp (bounded)."""
    dt = min(max(now - msg.stamp, 0.0), max_extrapolation_s)
    return advance(msg.points, msg.speed * dt)


@dataclass(frozen=True)
class RelayParams:
    position_tolerance_m: float = 0.15
    path_tolerance_m: float = 0.10
    keepalive_s: float = 1.0
    max_age_s: float = 2.5
    max_extrapolation_s: float = 1.5
    velocity_smoothing: float = 0.5  # weight of the newest displacement in the velocity estimate


@dataclass
class RouteSender:
    """Decides when this robot's route goes on the mesh (see the module's description)."""

    params: RelayParams = field(default_factory=RelayParams)
    last_sent: RouteMessage | None = None
    velocity: Point = (0.0, 0.0)
    _previous: tuple[float, Point] | None = None
    _arrived: float | None = None
    sent: int = 0
    seen: int = 0
    bunched: int = 0            # routes handed over less than a quarter of their publishing interval after the last
    peak_speed: float = 0.0     # [m/s] the fastest velocity sent (the relay's log shows it; reset there)

    def update(self, route: Sequence[Point], now: float, sampled: float | None = None) -> bytes | None:
        """This robot's newest route (position first); the payload to broadcast now, or None.

        ``sampled``: when the route's position was true, on the publisher's clock (the ``nav_msgs/Path`` header
        stamp; ``path_stamp``) — the velocity comes from these, not from ``now``: on a loaded host a subscriber gets
        routes in bursts, and with arrival times two routes published 0.2 s apart but handed over 3 ms apart give
        0.1 m / 3 ms = 33 m/s, which the peers extrapolate for up to ``max_extrapolation_s`` (the robot shown at the
        end of its route). None: ``now`` (a feed without stamps)."""
        if not route:
            return None
        self.seen += 1
        here = (float(route[0][0]), float(route[0][1]))
        if sampled is not None and self._previous is not None and self._arrived is not None and \
                now - self._arrived < 0.25 * (sampled - self._previous[0]):
            self.bunched += 1
        self._arrived = now
        self._track_velocity(here, now if sampled is None else sampled)
        points = simplify([(float(x), float(y)) for x, y in route], self.params.path_tolerance_m / 2)
        if not self._due(points, now):
            return None
        msg = RouteMessage(now, self.velocity, points)
        self.last_sent = msg
        self.sent += 1
        self.peak_speed = max(self.peak_speed, msg.speed)
        return encode(msg)

    def _track_velocity(self, here: Point, at: float) -> None:
        if self._previous is not None:
            then, there = self._previous
            dt = at - then
            if dt <= 1e-3:
                if dt < 0.0:              # the publisher's clock went back (a restart, a new sim time): start over
                    self._previous, self.velocity = (at, here), (0.0, 0.0)
                return
            a = self.params.velocity_smoothing
            v = ((here[0] - there[0]) / dt, (here[1] - there[1]) / dt)
            self.velocity = (a * v[0] + (1 - a) * self.velocity[0], a * v[1] + (1 - a) * self.velocity[1])
        self._previous = (at, here)

    def _due(self, points: tuple[Point, ...], now: float) -> bool:
        last, p = self.last_sent, self.params
        if last is None or now - last.stamp >= p.keepalive_s:
            return True
        shown = predicted(last, now, p.max_extrapolation_s)
        if math.dist(shown[0], points[0]) > p.position_tolerance_m:
            return True
        if math.dist(last.points[-1], points[-1]) > p.path_tolerance_m:
            return True
        return any(_polyline_distance(v, last.points) > p.path_tolerance_m for v in points[1:])


@dataclass
class PeerRoutes:
    """The other robots' routes as received over the mesh, with staleness dropped."""

    own_id: str
    params: RelayParams = field(default_factory=RelayParams)
    routes: dict[str, RouteMessage] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    worst_age: float = 0.0          # [s] largest receive age (receiver's clock - sender's stamp) since ``take_stats``
    forgotten: dict[str, int] = field(default_factory=dict)   # peers dropped for silence, per peer

    def on_message(self, sender: str, payload: bytes, now: float) -> bool:
        """A peer's broadcast; True if it became that peer's current route."""
        if sender == self.own_id:
            return False
        try:
            msg = decode(payload)
        except RouteError:
            self._reject("malformed")
            raise
        held = self.routes.get(sender)
        if held is not None and msg.stamp <= held.stamp:
            self._reject("older")
            return False
        self.worst_age = max(self.worst_age, now - msg.stamp)
        if now - msg.stamp > self.params.max_age_s:
            self._reject("stale")
            return False
        self.routes[sender] = msg
        self.accepted += 1
        return True

    def current(self, now: float) -> dict[str, tuple[Point, ...]]:
        """Each live peer's route as it should stand now (position first); peers silent for ``max_age_s`` are
        forgotten."""
        for gone in [r for r, m in self.routes.items() if now - m.stamp > self.params.max_age_s]:
            del self.routes[gone]
            self.forgotten[gone] = self.forgotten.get(gone, 0) + 1
        return {r: predicted(m, now, self.params.max_extrapolation_s) for r, m in self.routes.items()}

    def take_stats(self, now: float) -> str:
        """One line for the relay's periodic log (counters since the start; the worst receive age since the last
        call, which it resets)."""
        ages = ", ".join(f"{r} {now - m.stamp:.2f} s" for r, m in sorted(self.routes.items())) or "none"
        line = (f"peers held (age): {ages}; accepted {self.accepted}, rejected {dict(sorted(self.rejected.items()))}"
                f", forgotten for silence {dict(sorted(self.forgotten.items()))}, worst receive age "
                f"{self.worst_age:.2f} s")
        self.worst_age = 0.0
        return line

    def _reject(self, why: str) -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.dist(p, a)
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.dist(p, (a[0] + t * dx, a[1] + t * dy))


def _polyline_distance(p: Point, line: Sequence[Point]) -> float:
    if len(line) == 1:
        return math.dist(p, line[0])
    return min(_segment_distance(p, line[k], line[k + 1]) for k in range(len(line) - 1))
