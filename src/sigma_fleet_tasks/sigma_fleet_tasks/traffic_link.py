"""The ROS side of the traffic relay (``traffic_relay.py`` is its pure core), a part of ``fleet_tasks_node``.

Once the swarm mesh is on (``swarm/state`` names a roster), it subscribes this robot's ``traffic/route``
(``nav_msgs/Path`` from sigma_core, 5 Hz) and broadcasts it on the mesh when ``RouteSender`` says so
(``swarm/broadcast``, kind ``traffic_route``: signed by the swarm node with the robot's key); it takes the other
robots' routes from ``swarm/broadcasts`` (verified by the swarm node against the cloud-signed roster, replays
dropped there) and republishes each peer's dead-reckoned route on ``traffic/peers/<robot>/route`` (``nav_msgs/Path``,
map frame, sensor QoS) every ``traffic_period_s`` — the form sigma_core's ``core_node`` reads (its parameter
``peer_routes``). No timer of its own (each wake-up of an rclpy executor costs more than the relay's work): the
republishing rides on the robot's own route (5 Hz), with the node's 1 s tick as the fallback when that stops. With
the mesh off nothing is subscribed.
"""

from __future__ import annotations

import re
import time

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from rclpy.node import Node
from rclpy.publisher import Publisher
from std_msgs.msg import Header

from sigma_fleet_tasks.settings import FleetTasksSettings
from sigma_fleet_tasks.traffic_relay import (
    KIND,
    PeerRoutes,
    Point,
    RelayParams,
    RouteError,
    RouteSender,
    path_points,
    path_stamp,
)
from sigma_interfaces.msg import SwarmCommand
from sigma_ros_common.qos import SENSOR, reliable

REPORT_EVERY_S = 10.0  # the relay's counters in the log (evidence for a run's traffic picture)
ROBOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")  # usable inside a topic name


class TrafficLink:
    """Own route → mesh; peers' routes from the mesh → ``traffic/peers/<robot>/route``."""

    def __init__(self, node: Node, robot_id: str, s: FleetTasksSettings) -> None:
        self.node = node
        self.enabled = s.traffic_relay
        self.period_s = s.traffic_period_s
        params = RelayParams(position_tolerance_m=s.traffic_position_tolerance_m, keepalive_s=s.traffic_keepalive_s,
                             max_age_s=s.traffic_max_age_s)
        self.sender = RouteSender(params)
        self.peers = PeerRoutes(robot_id, params)
        self.on = False
        self._publishers: dict[str, Publisher] = {}
        self._broadcast_pub: Publisher | None = None
        self._republished = 0.0
        self._reported = 0.0

    def mesh_state(self, roster_version: int) -> None:
        """Called with each ``swarm/state``: start relaying once the mesh runs (a roster is in use)."""
        if self.on or not self.enabled or roster_version <= 0:
            return
        self.on = True
        node = self.node
        self._broadcast_pub = node.create_publisher(SwarmCommand, "swarm/broadcast", reliable(10))
        node.create_subscription(Path, "traffic/route", self._on_route, SENSOR, raw=True)  # see path_points
        node.create_subscription(SwarmCommand, "swarm/broadcasts", self._on_broadcast, reliable(50))
        node.get_logger().info("traffic: routes relayed over the swarm mesh (traffic/peers/<robot>/route)")

    def _on_route(self, raw: bytes) -> None:
        try:
            route, sampled = path_points(raw), path_stamp(raw) or None  # an unstamped route: its arrival time
        except RouteError as exc:
            self.node.get_logger().warning(f"traffic: own route unreadable: {exc}", throttle_duration_sec=10.0)
            return
        now = time.time()
        payload = self.sender.update(route, now, sampled)
        if payload is not None and self._broadcast_pub is not None:
            self._broadcast_pub.publish(SwarmCommand(kind=KIND, payload=list(payload)))
        self.tick(now)

    def _on_broadcast(self, msg: SwarmCommand) -> None:
        if msg.kind != KIND:
            return
        if not ROBOT_NAME.match(msg.sender):
            self.node.get_logger().warning(f"traffic: route from {msg.sender!r} ignored: not usable in a topic name",
                                           throttle_duration_sec=10.0)
            return
        try:
            self.peers.on_message(msg.sender, bytes(msg.payload), time.time())
        except RouteError as exc:
            self.node.get_logger().warning(f"traffic: route from {msg.sender} dropped: {exc}",
                                           throttle_duration_sec=10.0)

    def tick(self, now: float) -> None:
        """Republish the peers' routes if ``traffic_period_s`` has passed (own route callback; the node's tick)."""
        if not self.on or now - self._republished < self.period_s * 0.9:
            return
        self._republished = now
        for robot, route in self.peers.current(now).items():
            self._publish(robot, route)
        if now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            snd = self.sender
            self.node.get_logger().info(f"traffic: sent {snd.sent} of {snd.seen} own routes ({snd.bunched} handed "
                                        f"over in a burst), peak speed sent {snd.peak_speed:.2f} m/s; "
                                        + self.peers.take_stats(now))
            snd.peak_speed = 0.0

    def _publish(self, robot: str, route: tuple[Point, ...]) -> None:
        pub = self._publishers.get(robot)
        if pub is None:
            pub = self._publishers[robot] = self.node.create_publisher(Path, f"traffic/peers/{robot}/route", SENSOR)
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id="map")
        path = Path(header=header)
        for x, y in route:
            q = PoseStamped(header=header)
            q.pose.position.x, q.pose.position.y = float(x), float(y)
            q.pose.orientation.w = 1.0
            path.poses.append(q)
        pub.publish(path)
