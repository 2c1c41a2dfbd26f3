"""Traffic routes robot to robot over the signed swarm mesh, across real processes, with each robot on a ROS graph
of its own (two ROS domains: the graph cannot carry a route from one robot to the other).

Robot r1 (ROS domain A) and robot r2 (ROS domain B) each run the real swarm_node (signed Cyclone DDS mesh on a third
domain, localhost) and fleet_tasks_node; r2 also runs sigma_core's real core_node (default ``peer_routes: auto``).
The test plays sigma_core's route publisher on each side (``traffic/route``: r1 driving along a line at 1 m/s,
r2 standing) — core_node itself needs the simulator to move.

Shown: each robot's route appears on the other's graph as ``traffic/peers/<robot>/route`` (and never as
``/<robot>/traffic/route``), r1's relayed position follows the true one (error printed), r2's core_node follows
r1's route from the mesh relay; a forged frame (r1's name, another key) and a replayed genuine frame are dropped by
the mesh's verification (counted in r2's swarm diagnostics) and the forged route never shows; when r1 stops
publishing, r2's relay drops r1 after ``traffic_max_age_s``. Every step waits on what shows it (generous deadlines)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nacl.signing import SigningKey
from nav_msgs.msg import Path as RoutePath
from sigma_fleet_tasks.traffic_relay import KIND, RouteMessage, encode
from std_msgs.msg import Header

from sigma_protocol import b64encode
from sigma_ros_common.qos import SENSOR, reliable
from sigma_swarm.auth import Signer
from sigma_swarm.cluster import LocalCluster
from sigma_swarm.core import MemberBroadcast
from sigma_swarm.transport import DdsTransport
from sigma_swarm.wire import KIND_OF
from sigma_testing import claim_domain
from sigma_testing.fixtures import Launcher
from sigma_testing.probe import RosProbe

SWARM_CONFIG = Path(get_package_share_directory("sigma_swarm")) / "config" / "swarm.yaml"
CORE_CONFIG = Path(get_package_share_directory("sigma_core")) / "config" / "core.yaml"
TASKS_CONFIG = Path(__file__).resolve().parents[1] / "config" / "fleet_tasks.yaml"
WAIT_S = 90.0
MAX_AGE_S = 2.5  # traffic_max_age_s (the default)
R2_AT = (5.0, 6.0)
FORGED_AT = (40.0, 40.0)


def r1_at(t: float) -> tuple[float, float]:
    """r1 drives from (2, 2) towards (30, 2) at 1 m/s, t seconds after it started."""
    return (2.0 + min(t, 28.0), 2.0)


def route_msg(points: list[tuple[float, float]]) -> RoutePath:
    """A route as sigma_core publishes it: stamped with the publisher's clock when the position was true (the
    relay's velocity comes from these stamps)."""
    now = time.time()
    header = Header(frame_id="map")
    header.stamp.sec, header.stamp.nanosec = int(now), int((now % 1.0) * 1e9)
    path = RoutePath(header=header)
    for x, y in points:
        q = PoseStamped(header=header)
        q.pose.position.x, q.pose.position.y = x, y
        path.poses.append(q)
    return path


def counter(collector, name: str) -> int:
    latest = collector.latest()
    if latest is None:
        return 0
    return max((int(v.value) for s in latest.status for v in s.values if v.key == name), default=0)


def test_routes_cross_between_separate_ros_graphs_only_over_the_signed_mesh(launch, ros_probe, tmp_path):
    mesh, graph_b = claim_domain(), claim_domain()
    launch_b = Launcher(graph_b, tmp_path / "b")
    (tmp_path / "b").mkdir()
    probe_b = None
    intruder = None
    try:
        site = LocalCluster(2, tmp_path, mesh.domain_id, site="warehouse")
        swarm = {"swarm_domain_id": mesh.domain_id, "localhost_only": True,
                 "key_file": str(tmp_path / "{robot_id}.key"), "roster_file": str(site.roster_path),
                 "cloud_roster_key": b64encode(bytes(site.cloud_key.verify_key)),
                 "state_file": str(tmp_path / "{robot_id}.state.json")}
        for rid, start in (("r1", launch), ("r2", launch_b)):
            start("sigma_swarm", "swarm_node", name="swarm", namespace=rid, params_files=[SWARM_CONFIG], params=swarm)
            start("sigma_fleet_tasks", "fleet_tasks_node", name="fleet_tasks", namespace=rid,
                  params_files=[TASKS_CONFIG])
        core_b = launch_b("sigma_core", "core_node", name="core", namespace="r2", params_files=[CORE_CONFIG],
                          params={"payload_service": ""})
        probe_b = RosProbe(graph_b, name="probe_b")
        own = {"r1": ros_probe.publisher(RoutePath, "/r1/traffic/route", SENSOR),
               "r2": probe_b.publisher(RoutePath, "/r2/traffic/route", SENSOR)}
        seen_by_r2 = probe_b.subscribe(RoutePath, "/r2/traffic/peers/r1/route", SENSOR)
        seen_by_r1 = ros_probe.subscribe(RoutePath, "/r1/traffic/peers/r2/route", SENSOR)
        diagnostics_r2 = probe_b.subscribe(DiagnosticArray, "/r2/diagnostics", reliable(10))

        start = time.monotonic()
        samples: list[tuple[float, float]] = []  # (time since start, relayed position error) once converged
        driving = True

        def tick() -> None:
            t = time.monotonic() - start
            if driving:
                here = r1_at(t)
                own["r1"].publish(route_msg([here, (30.0, 2.0), (30.0, 10.0)]))
            own["r2"].publish(route_msg([R2_AT]))

        def until(cond, what: str, timeout: float = WAIT_S) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                tick()
                if cond():
                    return
                time.sleep(0.2)
            logs = "\n".join(f"--- {p.label}\n{p.output()[-2500:]}" for p in [*launch.processes, *launch_b.processes])
            raise AssertionError(f"{what}: not within {timeout} s\n{logs}")

        def first(msg: RoutePath) -> tuple[float, float]:
            return (msg.poses[0].pose.position.x, msg.poses[0].pose.position.y)

        until(lambda: seen_by_r2.latest() is not None and seen_by_r1.latest() is not None,
              "each robot sees the other's route relayed over the mesh")
        assert math.dist(first(seen_by_r1.latest()), R2_AT) < 0.05
        r1_route = seen_by_r2.latest()
        assert (r1_route.poses[-1].pose.position.x, r1_route.poses[-1].pose.position.y) == (30.0, 10.0)
        # the graphs are separate: neither robot's own route topic exists on the other's graph
        names_b = {n for n, _ in probe_b.node.get_topic_names_and_types()}
        names_a = {n for n, _ in ros_probe.node.get_topic_names_and_types()}
        assert "/r1/traffic/route" not in names_b and "/r2/traffic/route" not in names_a

        # r1's relayed position follows the true one (dead reckoning between messages; printed, loosely bounded)
        seen_by_r2.clear()
        until(lambda: len(seen_by_r2.messages) >= 25, "25 relayed routes of r1 while it drives")
        for msg, stamp in zip(list(seen_by_r2.messages), list(seen_by_r2.stamps), strict=True):
            samples.append((stamp - start, math.dist(first(msg), r1_at(stamp - start))))
        errors = sorted(e for _, e in samples)
        print(f"relayed position error over {len(errors)} routes: median {errors[len(errors) // 2]:.3f} m, "
              f"max {errors[-1]:.3f} m (r1 at 1 m/s; position tolerance 0.15 m)")
        assert errors[len(errors) // 2] < 0.5 and errors[-1] < 1.5

        # r2's core_node takes its peers' routes from the mesh relay
        until(lambda: "following robot r1's route" in core_b.output()
              and "routes from the swarm mesh" in core_b.output(), "core_node follows r1's route from the mesh")

        # forged and replayed frames: the mesh drops them before they reach the relay
        intruder = DdsTransport(mesh.domain_id, localhost_only=True, own_id="intruder")
        captured = None
        deadline = time.monotonic() + WAIT_S
        while captured is None and time.monotonic() < deadline:
            tick()
            frames = intruder.receive(0.2)
            captured = next((f for f in frames if f.sender == "r1" and f.kind == KIND_OF[MemberBroadcast]), None)
        assert captured is not None, "no broadcast of r1 captured on the mesh"
        forger = Signer("warehouse", "r1", SigningKey.generate(), boot=99)
        fake = RouteMessage(time.time(), (0.0, 0.0), (FORGED_AT, (41.0, 41.0)))
        until(lambda: counter(diagnostics_r2, "accepted") > 0, "r2's swarm diagnostics")
        for _ in range(3):
            intruder.publish(forger.frame(MemberBroadcast("r1", 0, 1, 10**6, KIND, encode(fake))))
            intruder.publish(captured)
        until(lambda: counter(diagnostics_r2, "drop_bad_signature") >= 1
              and counter(diagnostics_r2, "drop_replay") >= 1,
              "r2's mesh counts the forged frame (bad signature) and the replayed one")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            tick()
            time.sleep(0.2)
        assert all(math.dist(first(m), FORGED_AT) > 10.0 for m in seen_by_r2.messages), "a forged route was relayed"

        # r1 stops publishing its route: r2's relay lets it go after traffic_max_age_s
        driving = False
        stopped = time.monotonic()
        until(lambda: time.monotonic() - stopped > MAX_AGE_S + 3.0, "waiting out the route's age")
        last = seen_by_r2.stamps[-1]
        assert last - stopped < MAX_AGE_S + 1.0, f"r1's route relayed {last - stopped:.1f} s after r1 stopped sending"
    finally:
        if intruder is not None:
            intruder.close()
        if probe_b is not None:
            probe_b.close()
        for proc, _code in launch_b.stop_all():
            print(f"----- {proc.label} -----\n{proc.output()[-1500:]}")
        graph_b.release()
        mesh.release()
