"""CPU share of one twin_node at default rates, fed by a real simulated robot.

Run: source scripts/env.sh && python bench/twin_node_cpu.py [--seconds 60]

In a private ROS domain: sim_node with one robot, paced to real time, publishing its default rates (joint_states and
imu 100 Hz, odom 50 Hz, actuator_health 10 Hz, battery_state 1 Hz), and two twin_nodes for that robot side by side
with config/twin.yaml: the current one (``raw_sensors: true``: imu/odom/joint_states taken serialized, imu/odom read
in one batch per report) and the former path (``raw_sensors: false``: one Python message per sample), so both see
the same stream and the same host load. After a warm-up, each process's CPU seconds (utime + stime from /proc) over
``--seconds`` of wall time give its share of one core. A bare rclpy process subscribed to the same five topics with
empty callbacks is printed too (the cost of merely receiving them as Python messages). Goal: <= 5 % of one core.
The last line: the twin's share and its ratio to the former path measured in the same run.
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

BARE = """
import rclpy
from rclpy.node import Node
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, Imu, JointState
from sigma_interfaces.msg import ActuatorHealth
from sigma_ros_common import qos
rclpy.init()
n = Node("bare", namespace="/r1")
subs = [n.create_subscription(JointState, "joint_states", lambda m: None, qos.SENSOR),
        n.create_subscription(ActuatorHealth, "actuator_health", lambda m: None, qos.RELIABLE_10),
        n.create_subscription(BatteryState, "battery_state", lambda m: None, qos.RELIABLE_10),
        n.create_subscription(Imu, "imu", lambda m: None, qos.SENSOR),
        n.create_subscription(Odometry, "odom", lambda m: None, qos.SENSOR)]
try:
    rclpy.spin(n)
except KeyboardInterrupt:
    pass
"""




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    share = Path(os.environ.get("COLCON_PREFIX_PATH", "install").split(":")[0]) / "sigma_twin" / "share"
    twin_cfg = share / "sigma_twin" / "config" / "twin.yaml"
    with claim_domain() as dom, tempfile.TemporaryDirectory() as tmp:
        procs = []

        def start(pkg: str, exe: str, label: str, **kw) -> NodeProcess:
            p = NodeProcess([executable(pkg, exe), *ros_args(**kw)], env=dom.env, log_path=Path(tmp) / f"{label}.log",
                            label=label)
            procs.append(p)
            return p

        try:
            start("sigma_sim", "sim_node", "sim", params={"robots": ["r1"], "realtime": True})
            cfg = [twin_cfg] if twin_cfg.exists() else ()
            twin = start("sigma_twin", "twin_node", "twin", namespace="/r1", params_files=cfg)
            before = start("sigma_twin", "twin_node", "twin_before", namespace="/r1", name="twin_before",
                           params_files=cfg, params={"raw_sensors": False})
            echo = NodeProcess([sys.executable, "-c", BARE], env=dom.env, log_path=Path(tmp) / "bare.log",
                               label="bare")
            procs.append(echo)
            time.sleep(15.0)  # discovery and the first reports (start-up cost is not the steady state)
            for p in procs:
                if not p.alive:
                    print(f"{p.label} exited early:\n{p.output[-2000:]}", file=sys.stderr)
                    return 1
            measured = {"twin": twin, "before": before, "echo": echo}
            c0 = {k: cpu_seconds(p.pid) for k, p in measured.items()}
            w0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - w0
            use = {k: (cpu_seconds(p.pid) - c0[k]) / wall for k, p in measured.items()}
        finally:
            for p in reversed(procs):
                p.stop()
    print(f"wall {wall:.0f} s, load average {os.getloadavg()[0]:.1f}")
    print(f"bare rclpy subscriber to the same five topics: {100 * use['echo']:.1f} % of one core")
    print(f"twin_node, former path (one Python message per sample): {100 * use['before']:.1f} % of one core")
    print(f"twin_node CPU at default rates: {100 * use['twin']:.1f} % of one core "
          f"({use['twin'] / max(use['before'], 1e-9):.2f}x the former path in the same run, "
          f"{use['twin'] / max(use['echo'], 1e-9):.2f}x the bare subscriber; goal <= 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
