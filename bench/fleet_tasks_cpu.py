"""CPU share of one fleet_tasks_node (a follower) at the robot's default topic rates.

Run: source scripts/env.sh && python bench/fleet_tasks_cpu.py [--seconds 60]

In a private ROS domain a feeder process (not counted) publishes what fleet_tasks_node reads on a robot at default
rates: safety/events (one nominal transition at start; events come only on a level change), battery_state 1 Hz,
twin/health 1 Hz (12 actuators), swarm/state 1 Hz (a follower of leader "r9", so the node sends its task snapshot
every report_period_s on swarm/member_report).
After a warm-up, the node's CPU seconds (utime + stime from /proc) over ``--seconds`` of wall time give its share of
one core. Baseline in the same run: a bare rclpy process subscribed to the same topics with the same QoS and empty
callbacks (the cost of merely receiving them in Python). The headline is the last line.
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




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
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
            start([sys.executable, "-c", FEEDER], "feeder")
            node = start([executable("sigma_fleet_tasks", "fleet_tasks_node"),
                          *ros_args(name="fleet_tasks", namespace="/r1", params_files=[config],
                                    params={"start_place": "dock_1"})], "fleet_tasks")
            bare = start([sys.executable, "-c", BARE], "bare")
            time.sleep(15.0)  # discovery, imports, first reports: start-up is not the steady state
            for p in procs:
                if not p.alive:
                    print(f"{p.label} exited early:\n{p.output()[-2000:]}", file=sys.stderr)
                    return 1
            c0 = {"node": cpu_seconds(node.pid), "bare": cpu_seconds(bare.pid)}
            w0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - w0
            use = {k: (cpu_seconds(p.pid) - c0[k]) / wall for k, p in (("node", node), ("bare", bare))}
            reports = node.output().count("fleet tasks ready")
        finally:
            for p in reversed(procs):
                p.stop()
    print(f"wall {wall:.0f} s, load average {os.getloadavg()[0]:.1f}, node started {reports}x")
    print(f"bare rclpy subscriber to the same topics (baseline): {100 * use['bare']:.2f} % of one core")
    print(f"fleet_tasks_node (follower) at default rates: {100 * use['node']:.2f} % of one core "
          f"({use['node'] / max(use['bare'], 1e-9):.2f}x the bare subscriber)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
