"""CPU cost of one robot's state_publisher (robot_description, /tf_static, /tf at 20 Hz from joint_states at 100 Hz
and odom at 50 Hz), against the floor any node subscribing the same two topics pays.

Run: source scripts/env.sh && python bench/state_publisher_cpu.py [--seconds S]

In a private ROS domain: sim_node (one robot, real time) feeds both; `state_publisher` and a baseline rclpy node that
subscribes joint_states + odom and does nothing else run side by side. CPU share of one core = (utime + stime) over
S wall seconds, read from /proc after a warm-up. Both pay the rclpy wake-up per sample; the difference is what the
forward kinematics and the 20 Hz TFMessage add. The last line is the headline: the state_publisher's share of a core.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from sigma_testing.domain import claim_domain
from sigma_testing.process import NodeProcess, cpu_seconds, executable, ros_args


def baseline() -> None:
    """A node that subscribes what the state publisher subscribes and does nothing with it."""
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import JointState

    from sigma_ros_common.qos import SENSOR

    rclpy.init()
    node = rclpy.create_node("baseline_subscriber")
    node.create_subscription(JointState, "/r1/joint_states", lambda m: None, SENSOR)
    node.create_subscription(Odometry, "/r1/odom", lambda m: None, SENSOR)
    print("baseline ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
        rclpy.spin(node)




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-state-pub-"))
    with claim_domain() as domain:
        env = domain.env
        sim = NodeProcess([executable("sigma_sim", "sim_node"), *ros_args(params={"robots": ["r1"]})], env=env,
                          log_path=logs / "sim.log", label="sim")
        pub = NodeProcess([executable("sigma_state_publisher", "state_publisher"), *ros_args(namespace="/r1")],
                          env=env, log_path=logs / "state_publisher.log", label="state_publisher")
        base = NodeProcess([sys.executable, __file__, "--baseline"], env=env, log_path=logs / "baseline.log",
                           label="baseline")
        try:
            sim.wait_for_output("sigma_sim ready", timeout=60)
            pub.wait_for_output("state_publisher ready", timeout=60)
            base.wait_for_output("baseline ready", timeout=60)
            time.sleep(3.0)  # warm-up: discovery and the first samples (a measurement window, not a readiness wait)
            c0 = {p.label: cpu_seconds(p.popen.pid) for p in (pub, base)}
            t0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - t0
            share = {p.label: (cpu_seconds(p.popen.pid) - c0[p.label]) / wall for p in (pub, base)}
        finally:
            for p in (base, pub, sim):
                p.stop()
    print(f"baseline subscriber (joint_states 100 Hz + odom 50 Hz, no work): {100 * share['baseline']:.1f}% of a core")
    print(f"command: python bench/state_publisher_cpu.py --seconds {args.seconds:g}")
    print(f"state_publisher: {100 * share['state_publisher']:.1f}% of one core "
          f"({share['state_publisher'] / max(share['baseline'], 1e-9):.2f}x the subscription floor)")


if __name__ == "__main__":
    if "--baseline" in sys.argv:
        baseline()
    else:
        main()
