"""Perception: one world state per tick from the robot's inputs, each with its age.

Inputs are plain values (the node converts messages). A non-finite or malformed input is rejected with a reason
and never replaces the last good value; its age then keeps growing, which self-evaluation sees. Ages are measured
on the caller's clock at receipt (like the safety supervisor), never from header stamps.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from sigma_core.core.traffic import Peer, Person

INF = math.inf
# where other robots' routes come from, preferred first: the signed swarm mesh (relayed), then this ROS graph
PEER_SOURCES = ("mesh", "graph")
PEER_SPEED_WINDOW = 1.0     # [s] a peer's positions kept for its speed estimate
PEER_SPEED_SPAN = 0.15      # [s] shortest span a speed is taken over (position jitter over a tick is no speed)
PEER_SPEED_CAP = 2.0        # [m/s] no humanoid base goes faster: a larger estimate is a jump (e.g. a source switch)


@dataclass(frozen=True)
class SafetyView:
    """What the safety supervisor allows now (from ``safety/status``)."""

    level: int
    authority: int          # SafetyStatus.AUTHORITY_*: the highest authority allowed to command
    speed_scale: float
    brake: bool
    fault_codes: frozenset[int]


@dataclass(frozen=True)
class WorldState:
    """Everything the later stages use, with ages [s] (inf = never received)."""

    now: float
    pose: tuple[float, float, float] | None      # x, y [m], yaw [rad] in the map frame
    pose_age: float
    velocity: tuple[float, float]                # vx [m/s], wz [rad/s] in the base frame
    joints: dict[str, float]
    joints_age: float
    joints_stream_age: float                     # since joint states were (re)requested; inf = always on
    humans: tuple[tuple[float, float], ...]      # positions in the base frame [m]
    humans_age: float
    people: tuple[Person, ...]                   # the same people in the map frame, with map-frame velocities
    peers: tuple[Peer, ...]                      # other robots' latest routes (position first), any age
    battery_soc: float                           # [0, 1]; nan if unknown
    charging: bool
    battery_age: float
    safety: SafetyView | None
    safety_age: float
    hottest_joint: str
    hottest_winding: float                       # [degC]; nan if unknown
    health_age: float
    twin_risk: float                             # probability in [0, 1] from the twin; nan if none
    twin_age: float
    twin_window_start: float                     # the twin's earliest maintenance window [s, this clock]; nan: none
    currents: dict[str, float]                   # latest motor current per joint [A]
    rejected: tuple[str, ...]                    # recent rejected inputs, newest last
    fleet_class: str = ""                        # the adopted fleet model's latest class of the telemetry ("": none)
    fleet_fault: str = ""                        # the fault class of its latest fault verdict ("": none yet)
    fleet_fault_age: float = INF                 # since that fault verdict arrived [s]
    route_unheard: float = 0.0                   # [s] since the last other node took this robot's route (0: one
                                                 # does now, or none ever did)

    @property
    def nearest_human(self) -> float:
        """Distance to the nearest detected person [m] (inf if none)."""
        return min((math.hypot(x, y) for x, y in self.humans), default=INF)


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


@dataclass
class Perception:
    """Holds the latest good value of every input and when it arrived."""

    pose: tuple[float, float, float] | None = None
    velocity: tuple[float, float] = (0.0, 0.0)
    joints: dict[str, float] = field(default_factory=dict)
    humans: tuple[tuple[float, float], ...] = ()
    people: tuple[Person, ...] = ()
    peers: dict[str, Peer] = field(default_factory=dict)
    battery_soc: float = math.nan
    charging: bool = False
    safety: SafetyView | None = None
    hottest_joint: str = ""
    hottest_winding: float = math.nan
    twin_risk: float = math.nan
    twin_window_start: float = math.nan
    currents: dict[str, float] = field(default_factory=dict)
    fleet_class: str = ""
    fleet_fault: str = ""
    joints_requested_at: float | None = None     # set by a shell that subscribes joint states only on demand
    peer_heard: dict[tuple[str, str], float] = field(default_factory=dict)   # (robot, source) -> last received
    peer_source: dict[str, str] = field(default_factory=dict)               # robot -> source of the route held
    peer_track: dict[str, deque] = field(default_factory=dict)              # robot -> recent (time, x, y) held
    route_heard_at: float | None = None  # when another node was last known to take this robot's route (None: never)
    route_heard: bool = False
    received: dict[str, float] = field(default_factory=dict)
    rejected: deque = field(default_factory=lambda: deque(maxlen=8))

    def _reject(self, topic: str, why: str, now: float) -> bool:
        self.rejected.append(f"{topic}: {why} (t={now:.2f})")
        return False

    def update_odom(self, x: float, y: float, yaw: float, vx: float, wz: float, now: float) -> bool:
        """Pose in the map frame and base-frame velocity; False (and a reason recorded) if rejected."""
        if not _finite(x, y, yaw, vx, wz):
            return self._reject("odom", f"non-finite pose/velocity ({x}, {y}, {yaw}, {vx}, {wz})", now)
        self.pose, self.velocity = (float(x), float(y), float(yaw)), (float(vx), float(wz))
        self.received["odom"] = now
        return True

    def update_joints(self, names: list[str], positions: list[float], now: float) -> bool:
        if len(names) != len(positions):
            return self._reject("joint_states", f"{len(names)} names but {len(positions)} positions", now)
        bad = [n for n, p in zip(names, positions, strict=False) if not _finite(p)]
        if bad:
            return self._reject("joint_states", f"non-finite position of {', '.join(bad[:3])}", now)
        self.joints = dict(zip(names, (float(p) for p in positions), strict=False))
        self.received["joint_states"] = now
        return True

    def update_humans(self, detections: list[tuple[float, ...]], now: float) -> bool:
        """People as (x, y) or (x, y, vx, vy) in the base frame (velocity relative to the robot, as the detector
        reports it); also kept in the map frame with map-frame velocities, using the latest pose."""
        if not all(len(h) in (2, 4) and _finite(*h) for h in detections):
            return self._reject("humans", "non-finite or malformed person detection", now)
        self.humans = tuple((float(h[0]), float(h[1])) for h in detections)
        if self.pose is not None:
            x0, y0, yaw = self.pose
            c, s = math.cos(yaw), math.sin(yaw)
            v = self.velocity[0]
            people = []
            for h in detections:
                rvx, rvy = (h[2], h[3]) if len(h) == 4 else (-v, 0.0)   # unknown velocity: assume standing
                people.append(Person(x0 + c * h[0] - s * h[1], y0 + s * h[0] + c * h[1],
                                     c * rvx - s * rvy + v * c, s * rvx + c * rvy + v * s))
            self.people = tuple(people)
        self.received["humans"] = now
        return True

    def update_peer(self, robot_id: str, route: list[tuple[float, float]], now: float, source: str = "",
                    fallback_after: float = INF) -> bool:
        """Another robot's route (its position, then its intended path) in the map frame, from ``source`` (one of
        ``PEER_SOURCES``; "" = the only one). Where routes arrive from both, the mesh's is held and a graph route
        for a robot is taken only once the mesh has said nothing of that robot for ``fallback_after`` seconds: a
        robot whose own mesh relay died (its fleet_tasks killed) but which still publishes on this graph stays
        visible. False only for a rejected route; a fallback route not taken is not an error."""
        if not robot_id or not route or not all(_finite(x, y) for x, y in route):
            return self._reject("traffic", f"robot {robot_id!r}: empty or non-finite route", now)
        if source:
            self.peer_heard[(robot_id, source)] = now
            if self.overridden(robot_id, source, now, fallback_after):
                return True
        self.peer_source[robot_id] = source
        pts = tuple((float(x), float(y)) for x, y in route)
        self.peers[robot_id] = Peer(robot_id, pts, now, self._peer_speed(robot_id, pts[0], now))
        return True

    def _peer_speed(self, robot_id: str, at: tuple[float, float], now: float) -> float:
        """A peer's speed [m/s] from the positions it reported in the last ``PEER_SPEED_WINDOW`` s: the largest
        displacement rate to the newest over spans of at least ``PEER_SPEED_SPAN`` (a relay that repeats a position
        does not hide the motion), at most ``PEER_SPEED_CAP``; 0 until two positions are that far apart in time."""
        track = self.peer_track.setdefault(robot_id, deque())
        while track and (now - track[0][0] > PEER_SPEED_WINDOW or now < track[0][0]):
            track.popleft()
        track.append((now, *at))
        best = 0.0
        for t, x, y in track:
            if now - t >= PEER_SPEED_SPAN:
                best = max(best, math.hypot(at[0] - x, at[1] - y) / (now - t))
        return min(best, PEER_SPEED_CAP)

    def overridden(self, robot_id: str, source: str, now: float, fallback_after: float) -> bool:
        """True while a source preferred to ``source`` said something of ``robot_id`` within ``fallback_after``: a
        route from ``source`` would not be taken (a shell may skip decoding it)."""
        better = PEER_SOURCES[:PEER_SOURCES.index(source)] if source in PEER_SOURCES else PEER_SOURCES
        return any(now - self.peer_heard.get((robot_id, b), -INF) <= fallback_after for b in better)

    def update_battery(self, soc: float, charging: bool, now: float) -> bool:
        if not _finite(soc) or not 0.0 <= soc <= 1.0:
            return self._reject("battery_state", f"state of charge {soc} outside [0, 1]", now)
        self.battery_soc, self.charging = float(soc), bool(charging)
        self.received["battery_state"] = now
        return True

    def update_safety(self, view: SafetyView, now: float) -> bool:
        if view.authority not in (0, 1, 2) or not _finite(view.speed_scale):
            return self._reject("safety/status", f"authority {view.authority}, speed scale {view.speed_scale}", now)
        self.safety = view
        self.received["safety/status"] = now
        return True

    def update_health(self, names: list[str], winding: list[float], now: float,
                      current: list[float] | None = None) -> bool:
        if len(names) != len(winding) or not names:
            return self._reject("actuator_health", f"{len(names)} names, {len(winding)} temperatures", now)
        if current is not None and len(current) == len(names):
            self.currents = {n: float(c) for n, c in zip(names, current, strict=False) if _finite(c)}
        pairs = [(t, n) for n, t in zip(names, winding, strict=False) if _finite(t)]
        if not pairs:
            return self._reject("actuator_health", "no finite winding temperature", now)
        self.hottest_winding, self.hottest_joint = max(pairs)
        self.received["actuator_health"] = now
        return True

    def update_twin_window(self, start: float) -> None:
        """The twin's earliest maintenance window start on this clock (nan or <= 0: none planned)."""
        self.twin_window_start = float(start) if _finite(start) and start > 0 else math.nan

    def update_twin_risk(self, risk: float, now: float) -> bool:
        if not _finite(risk) or not 0.0 <= risk <= 1.0:
            return self._reject("twin", f"risk {risk} outside [0, 1]", now)
        self.twin_risk = float(risk)
        self.received["twin"] = now
        return True

    def update_fleet_verdict(self, label: str, fault: bool, now: float) -> bool:
        """The bridge's verdict of the adopted fleet model on the robot's recent telemetry (``fleet_model/verdict``):
        its class and whether that is a fault class."""
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            return self._reject("fleet_model", f"empty or oversized class {label!r:.60}", now)
        self.fleet_class = label.strip()
        self.received["fleet_model"] = now
        if fault:
            self.fleet_fault = self.fleet_class
            self.received["fleet_fault"] = now
        return True

    def update_route_listeners(self, count: int, now: float) -> None:
        """How many other nodes take this robot's ``traffic/route`` now (its mesh relay, or other robots' cores on a
        shared graph), told when that changes (the publisher's matched event) or polled. Once some did, none any
        more means the other robots no longer learn where it goes: unheard from the first report of none."""
        if count > 0 or self.route_heard:
            self.route_heard_at = now
        self.route_heard = count > 0

    def age(self, topic: str, now: float) -> float:
        t = self.received.get(topic)
        return INF if t is None else max(0.0, now - t)

    def snapshot(self, now: float) -> WorldState:
        """The world state at ``now`` (ages relative to it)."""
        return WorldState(
            now=now, pose=self.pose, pose_age=self.age("odom", now), velocity=self.velocity,
            joints=dict(self.joints), joints_age=self.age("joint_states", now),
            joints_stream_age=INF if self.joints_requested_at is None else max(0.0, now - self.joints_requested_at),
            humans=self.humans,
            humans_age=self.age("humans", now), people=self.people, peers=tuple(self.peers.values()),
            battery_soc=self.battery_soc, charging=self.charging,
            battery_age=self.age("battery_state", now), safety=self.safety, safety_age=self.age("safety/status", now),
            hottest_joint=self.hottest_joint, hottest_winding=self.hottest_winding,
            health_age=self.age("actuator_health", now), twin_risk=self.twin_risk, twin_age=self.age("twin", now),
            twin_window_start=self.twin_window_start, currents=self.currents,
            rejected=tuple(self.rejected), fleet_class=self.fleet_class, fleet_fault=self.fleet_fault,
            fleet_fault_age=self.age("fleet_fault", now),
            route_unheard=(0.0 if self.route_heard or self.route_heard_at is None
                           else max(0.0, now - self.route_heard_at)),
        )
