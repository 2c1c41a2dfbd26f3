"""CPU share of one fleet_tasks_node (a follower) at the robot's default topic rates.

Run: source scripts/env.sh && python bench/fleet_tasks_cpu.py [--seconds 60] [--traffic N]

In a private ROS domain a feeder process (not counted) publishes what fleet_tasks_node reads on a robot at default
rates: safety/events (one nominal transition at start; events come only on a level change), battery_state 1 Hz,
twin/health 1 Hz (12 actuators), swarm/state 1 Hz (a follower of leader "r9", so the node sends its task snapshot
every report_period_s on swarm/member_report).
After a warm-up, the node's CPU seconds (utime + stime from /proc) over ``--seconds`` of wall time give its share of
one core. Baseline in the same run: a bare rclpy process subscribed to the same topics with the same QoS and empty
callbacks (the cost of merely receiving them in Python). The headline is the last line.

``--traffic N`` (the traffic relay over the mesh, issue #13): swarm/state says the mesh is on (roster version 1); the
feeder also plays sigma_core's ``traffic/route`` at 5 Hz for a robot driving a 20 m x 10 m loop at 1 m/s (a 0.25 m
grid path, up to ~120 vertices) and N peers driving the same way, whose routes arrive on ``swarm/broadcasts`` as
their relays would send them (``RouteSender``); a second fleet_tasks_node on the same feed with
``traffic_relay: false`` runs side by side (baseline: the node without the relay, same run). The headline is the
relay's share (relay on minus relay off) and the mesh messages per second the robot sends.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sigma_testing.domain import claim_domain
from sigma_testing.process import NodeProcess, cpu_seconds, executable, ros_args

SUBSCRIBE = """
from sensor_msgs.msg import BatteryState
from sigma_interfaces.msg import SafetyEvent, SwarmState, TwinHealth
from sigma_ros_common.qos import LATCHED, RELIABLE_10, SAFETY_EVENTS
TOPICS = [(SafetyEvent, "safety/events", SAFETY_EVENTS), (BatteryState, "battery_state", RELIABLE_10),
          (TwinHealth, "twin/health", LATCHED), (SwarmState, "swarm/state", LATCHED)]
"""
BARE = SUBSCRIBE + """
import rclpy
from rclpy.node import Node
rclpy.init()
n = Node("bare", namespace="/r2")
subs = [n.create_subscription(t, name, lambda m: None, q) for t, name, q in TOPICS]
try:
    rclpy.spin(n)
except KeyboardInterrupt:
    pass
"""
FEEDER = SUBSCRIBE + """
import rclpy
from rclpy.node import Node
from sigma_interfaces.msg import ComponentHealth
rclpy.init()
n = Node("feeder")
pubs = {(ns, name): n.create_publisher(t, f"/{ns}/{name}", q) for ns in ("r1", "r2") for t, name, q in TOPICS}
twin = TwinHealth(actuators=[ComponentHealth(name=f"joint_{k}", health=0.9, risk=0.01) for k in range(12)])
for ns in ("r1", "r2"):
    pubs[(ns, "safety/events")].publish(SafetyEvent(previous_level=1, level=0, cause="bench"))
def slow():
    for ns in ("r1", "r2"):
        pubs[(ns, "battery_state")].publish(BatteryState(percentage=0.8, charge=12.0, capacity=15.0))
        pubs[(ns, "twin/health")].publish(twin)
        pubs[(ns, "swarm/state")].publish(SwarmState(robot_id=ns, role=0, term=3, leader="r9",
                                                     members=["r1", "r2", "r9"]))
n.create_timer(1.0, slow)
try:
    rclpy.spin(n)
except KeyboardInterrupt:
    pass
"""
TRAFFIC_FEEDER = SUBSCRIBE + """
import sys, time
import rclpy
from rclpy.node import Node
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from sigma_interfaces.msg import ComponentHealth, SwarmCommand
from sigma_ros_common.qos import SENSOR, reliable
from sigma_fleet_tasks.traffic_relay import KIND, RouteSender, advance
PEERS = int(sys.argv[1])
rclpy.init()
n = Node("feeder")
pubs = {(ns, name): n.create_publisher(t, f"/{ns}/{name}", q) for ns in ("r1", "r2") for t, name, q in TOPICS}
routes = {ns: n.create_publisher(Path, f"/{ns}/traffic/route", SENSOR) for ns in ("r1", "r2")}
peer_out = {ns: n.create_publisher(SwarmCommand, f"/{ns}/swarm/broadcasts", reliable(50)) for ns in ("r1", "r2")}
sent = {"r1": 0}
n.create_subscription(SwarmCommand, "/r1/swarm/broadcast", lambda m: sent.__setitem__("r1", sent["r1"] + 1),
                      reliable(50))
twin = TwinHealth(actuators=[ComponentHealth(name=f"joint_{k}", health=0.9, risk=0.01) for k in range(12)])
for ns in ("r1", "r2"):
    pubs[(ns, "safety/events")].publish(SafetyEvent(previous_level=1, level=0, cause="bench"))
corners = [(0.0, 0.0), (20.0, 0.0), (20.0, 10.0), (0.0, 10.0), (0.0, 0.0)]
loop = [corners[0]]
for a, b in zip(corners, corners[1:]):
    steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1])) / 0.25)
    loop += [(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps) for k in range(1, steps + 1)]
LOOP_M = 60.0
def route_at(t, offset):
    d = (t + offset) % LOOP_M  # 1 m/s round the loop; the route runs to the loop's end
    return list(advance(loop, d))
peers = [RouteSender() for _ in range(PEERS)]
t0 = time.time()
def slow():
    for ns in ("r1", "r2"):
        pubs[(ns, "battery_state")].publish(BatteryState(percentage=0.8, charge=12.0, capacity=15.0))
        pubs[(ns, "twin/health")].publish(twin)
        pubs[(ns, "swarm/state")].publish(SwarmState(robot_id=ns, role=0, term=3, leader="r9",
                                                     members=["r1", "r2", "r9"], roster_version=1))
    print(f"r1 sent {sent['r1']} in {time.time() - t0:.1f} s", flush=True)
def fast():
    t = time.time() - t0
    for ns in ("r1", "r2"):
        path = Path()
        path.header.frame_id = "map"
        for x, y in route_at(t, 0.0):
            q = PoseStamped()
            q.pose.position.x, q.pose.position.y = x, y
            path.poses.append(q)
        routes[ns].publish(path)
    for k, sender in enumerate(peers):
        payload = sender.update(route_at(t, 7.0 * (k + 1)), time.time())
        if payload is not None:
            for ns in ("r1", "r2"):
                peer_out[ns].publish(SwarmCommand(sender=f"p{k}", kind=KIND, payload=list(payload)))
n.create_timer(1.0, slow)
n.create_timer(0.2, fast)
try:
    rclpy.spin(n)
except KeyboardInterrupt:
    pass
"""




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--traffic", type=int, default=0, metavar="N",
                    help="relay traffic routes over the mesh with N peers (and a relay-off node side by side)")
    args = ap.parse_args()
    share = Path(os.environ.get("COLCON_PREFIX_PATH", "install").split(":")[0]) / "sigma_fleet_tasks" / "share"
    config = share / "sigma_fleet_tasks" / "config" / "fleet_tasks.yaml"
    with claim_domain() as dom, tempfile.TemporaryDirectory() as tmp:
        procs: list[NodeProcess] = []

        def start(cmd: list[str], label: str) -> NodeProcess:
            p = NodeProcess(cmd, env=dom.env, log_path=Path(tmp) / f"{label}.log", label=label)
            procs.append(p)
            return p

        try:
            traffic = args.traffic > 0
            feeder = start([sys.executable, "-c", TRAFFIC_FEEDER, str(args.traffic)] if traffic
                           else [sys.executable, "-c", FEEDER], "feeder")
            node = start([executable("sigma_fleet_tasks", "fleet_tasks_node"),
                          *ros_args(name="fleet_tasks", namespace="/r1", params_files=[config],
                                    params={"start_place": "dock_1"})], "fleet_tasks")
            off = start([executable("sigma_fleet_tasks", "fleet_tasks_node"),
                         *ros_args(name="fleet_tasks", namespace="/r2", params_files=[config],
                                   params={"start_place": "dock_2", "traffic_relay": False})],
                        "fleet_tasks_norelay") if traffic else None
            bare = start([sys.executable, "-c", BARE], "bare")
            time.sleep(15.0)  # discovery, imports, first reports: start-up is not the steady state
            for p in procs:
                if not p.alive:
                    print(f"{p.label} exited early:\n{p.output()[-2000:]}", file=sys.stderr)
                    return 1
            measured = [("node", node), ("bare", bare)] + ([("off", off)] if off is not None else [])
            c0 = {k: cpu_seconds(p.pid) for k, p in measured}
            sent0 = _sent(feeder.output())
            w0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - w0
            use = {k: (cpu_seconds(p.pid) - c0[k]) / wall for k, p in measured}
            rate = (_sent(feeder.output()) - sent0) / wall
            reports = node.output().count("fleet tasks ready")
        finally:
            for p in reversed(procs):
                p.stop()
    print(f"wall {wall:.0f} s, load average {os.getloadavg()[0]:.1f}, node started {reports}x")
    print(f"bare rclpy subscriber to the same topics (baseline): {100 * use['bare']:.2f} % of one core")
    if "off" in use:
        print(f"fleet_tasks_node without the relay (same feed, side by side): {100 * use['off']:.2f} % of one core")
        print(f"fleet_tasks_node with the traffic relay, own route at 5 Hz, {args.traffic} peers driving: "
              f"{100 * use['node']:.2f} % of one core; the relay's share {100 * (use['node'] - use['off']):.2f} % "
              f"of one core; {rate:.2f} mesh messages/s sent (load average {os.getloadavg()[0]:.1f})")
        return 0
    print(f"fleet_tasks_node (follower) at default rates: {100 * use['node']:.2f} % of one core "
          f"({use['node'] / max(use['bare'], 1e-9):.2f}x the bare subscriber)")
    return 0


def _sent(output: str) -> int:
    """The feeder's latest count of the relay's broadcasts (``r1 sent N in T s``)."""
    lines = [ln for ln in output.splitlines() if ln.startswith("r1 sent ")]
    return int(lines[-1].split()[2]) if lines else 0


if __name__ == "__main__":
    raise SystemExit(main())
