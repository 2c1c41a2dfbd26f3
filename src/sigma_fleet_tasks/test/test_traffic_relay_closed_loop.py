"""The main command's three scripted tasks in closed loop with the robots' routes carried by the relay (round 6).

With ``peer_routes: auto`` (routes over the signed mesh) r3 stood at ``navigate:pickup`` for 200+ s in clean-clone CI
runs while r1 and r2 finished; with the ROS graph's routes it did not. This test asks whether the *route picture* the
relay delivers (Ramer-Douglas-Peucker simplification, dead reckoning along the route, keep-alives, staleness, a
delivery delay) can hold r3 by itself: sigma_core's real pipelines (pure, simulated time, unicycle stand-ins for the
robots) see each other's routes only through ``RouteSender`` → wire form → ``PeerRoutes.current``, republished every
0.2 s like ``traffic_link``; the same run with the routes handed over directly (the graph) is the baseline. Both
must finish every task with nobody standing a minute and the separation kept. (It passes: the relay's picture is not
the cause — docs/tasks.md, "Back to graph".)"""

from __future__ import annotations

import math

import pytest
from sigma_fleet_tasks.traffic_relay import PeerRoutes, RelayParams, RouteSender

from sigma_core.core.perception import SafetyView
from sigma_core.core.pipeline import CoreConfig, Pipeline
from sigma_core.core.sitemap import load_site
from sigma_core.core.tasks import FINAL, Kind, State, TaskSpec
from sigma_ros_common.share import share_file

DT = 0.05
ROUTE_EVERY = 4            # core_node: a route every 4 ticks (5 Hz at 20 Hz)
ARM_RATE = 1.5             # [rad/s]
STARTS = {"r1": (-10.0, 0.0), "r2": (-7.0, 0.0), "r3": (-4.0, 0.0)}     # the world's first three spawns
ORDERS = {"r1": TaskSpec("r1", Kind.DELIVER, pickup="shelf_3_0", dropoff="shelf_2_0", payload_mass=3.0),
          "r2": TaskSpec("r2", Kind.GO_TO, place="6,0"),
          "r3": TaskSpec("r3", Kind.DELIVER, pickup="shelf_0_1", dropoff="shelf_0_0", payload_mass=3.0)}


class Robot:
    """A unicycle that does what its pipeline commands (arms slew, grasps confirmed)."""

    def __init__(self, rid: str, site) -> None:
        self.x, self.y = STARTS[rid]
        self.yaw = 0.0
        self.joints = {n: 0.0 for n in ("left_shoulder_pitch", "right_shoulder_pitch", "left_elbow", "right_elbow")}
        self.pipe = Pipeline(site, CoreConfig(), rid)
        self.final: State | None = None

    def tick(self, t: float):
        p = self.pipe.perception
        p.update_odom(self.x, self.y, self.yaw, 0.0, 0.0, t)
        p.update_joints(list(self.joints), list(self.joints.values()), t)
        p.update_humans([], t)
        p.update_battery(0.8, False, t)
        p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), t)
        out = self.pipe.tick(t)
        if out.payload_request is not None:
            self.pipe.confirm_payload(out.payload_request)
        if out.command is not None and out.channel == "edge_ai":
            self.yaw += out.command.wz * DT
            self.x += out.command.vx * math.cos(self.yaw) * DT
            self.y += out.command.vx * math.sin(self.yaw) * DT
            for n, target in (out.command.joints or {}).items():
                step = min(ARM_RATE, out.command.joint_speed) * DT
                self.joints[n] += max(-step, min(step, target - self.joints[n]))
        for s in out.statuses:
            if s.state in FINAL:
                self.final = s.state
        return out


def _run(over_mesh: bool, latency: float) -> tuple[dict, dict, float]:
    site = load_site(share_file("sigma_sim", "worlds", "warehouse.yaml"))
    robots = {r: Robot(r, site) for r in STARTS}
    senders = {r: RouteSender(RelayParams()) for r in robots}
    receivers = {r: PeerRoutes(r, RelayParams()) for r in robots}
    in_flight: list[tuple[float, str, bytes]] = []
    graph: dict[str, tuple] = {}
    moved = {r: (0.0, (b.x, b.y)) for r, b in robots.items()}
    longest = dict.fromkeys(robots, 0.0)
    closest, t, k, submitted = math.inf, 0.0, 0, set()
    while t < 400.0 and not all(b.final for b in robots.values()):
        for r, b in robots.items():
            if r not in submitted and (t >= 1.0 if r != "r2" else abs(robots["r3"].y) >= 1.5):
                b.pipe.submit_task(ORDERS[r], t)       # r2 sets off once r3 left the cross aisle (demo.py)
                submitted.add(r)
            out = b.tick(t)
            if k % ROUTE_EVERY or not out.route:
                continue
            if not over_mesh:
                graph[r] = out.route
                continue
            payload = senders[r].update(out.route, t, t)
            if payload is not None:
                in_flight.append((t + latency, r, payload))
            for peer, route in receivers[r].current(t).items():     # traffic_link republishes on its own route
                b.pipe.perception.update_peer(peer, list(route), t)
        for r, b in robots.items():
            for peer, route in graph.items():
                if peer != r:
                    b.pipe.perception.update_peer(peer, list(route), t)
        while in_flight and in_flight[0][0] <= t:
            _, sender, payload = in_flight.pop(0)
            for r in robots:
                receivers[r].on_message(sender, payload, t)
        names = list(robots)
        for i, a in enumerate(names):
            for c in names[i + 1:]:
                closest = min(closest, math.dist((robots[a].x, robots[a].y), (robots[c].x, robots[c].y)))
        for r, b in robots.items():
            _since, at = moved[r]
            if b.final or math.dist(at, (b.x, b.y)) > 0.1:
                moved[r] = (t, (b.x, b.y))
            longest[r] = max(longest[r], t - moved[r][0])
        t += DT
        k += 1
    return {r: b.final for r, b in robots.items()}, longest, closest


@pytest.mark.parametrize("over_mesh, latency", [(False, 0.0), (True, 0.0), (True, 0.4)])
def test_the_scripted_tasks_finish_with_the_routes_relayed(over_mesh, latency):
    final, longest, closest = _run(over_mesh, latency)
    assert final == dict.fromkeys(STARTS, State.SUCCEEDED), (final, longest)
    assert max(longest.values()) < 60.0, longest
    assert closest >= 1.5 - 0.1, closest
