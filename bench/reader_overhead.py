"""CPU per received message: rclpy's SingleThreadedExecutor vs sigma_ros_common.reader.TopicReader.

Run: source scripts/env.sh && python bench/reader_overhead.py [--seconds S]

In a private ROS domain a publisher process sends what sigma_sim sends a robot's bridge most often — JointState
(29 joints) and Imu at 100 Hz, Odometry at 50 Hz — and a subscriber process shaped like the bridge (a lifecycle
node: its lifecycle and parameter services, two timers, the three subscriptions raw) takes them, first through the
executor, then through a TopicReader. CPU share of one core of the subscriber = (utime + stime) / wall over S
seconds from /proc after a warm-up; messages/s received as a check that both took everything.
The last line is the headline: the reader's CPU as a ratio of the executor's, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

TOPICS = (("joint_states", 100.0), ("imu", 100.0), ("odom", 50.0))


def publisher() -> None:
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Imu, JointState

    rclpy.init()
    node = rclpy.create_node("bench_publisher")
    names = [f"joint_{i}" for i in range(29)]
    msgs = {"joint_states": JointState(name=names, position=[0.1] * 29, velocity=[0.0] * 29, effort=[1.0] * 29),
            "imu": Imu(), "odom": Odometry()}
    pubs = {t: node.create_publisher(type(msgs[t]), t, qos_profile_sensor_data) for t, _ in TOPICS}
    t0, k = time.monotonic(), 0
    while rclpy.ok():  # 100 Hz base tick; odometry every second tick
        k += 1
        for topic, rate in TOPICS:
            if k % round(100.0 / rate) == 0:
                pubs[topic].publish(msgs[topic])
        time.sleep(max(0.0, t0 + k * 0.01 - time.monotonic()))


def subscriber(mode: str, seconds: float) -> None:
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import LifecycleNode
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Imu, JointState

    from sigma_ros_common.reader import TopicReader

    rclpy.init()
    node = LifecycleNode("bench_subscriber")
    count = [0]

    def on_msg(raw: bytes) -> None:
        count[0] += 1

    node.create_timer(0.1, lambda: None)
    node.create_timer(1.0, lambda: None)
    types = {"joint_states": JointState, "imu": Imu, "odom": Odometry}
    reader = TopicReader(node) if mode == "reader" else None
    for topic, _ in TOPICS:
        if reader is not None:
            reader.subscribe(types[topic], topic, on_msg, qos_profile_sensor_data, raw=True)
        else:
            node.create_subscription(types[topic], topic, on_msg, qos_profile_sensor_data, raw=True)
    if reader is not None:
        reader.start()
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    warm_until = time.monotonic() + 3.0
    while time.monotonic() < warm_until:
        ex.spin_once(timeout_sec=0.1)
    c0, t0, r0 = count[0], time.monotonic(), os.times()
    while time.monotonic() < t0 + seconds:
        ex.spin_once(timeout_sec=0.1)
    r1, t1 = os.times(), time.monotonic()
    cpu = 100.0 * ((r1.user - r0.user) + (r1.system - r0.system)) / (t1 - t0)
    print(f"RESULT {mode} {cpu:.2f} {(count[0] - c0) / (t1 - t0):.1f}", flush=True)
    if reader is not None:
        reader.stop()
    node.destroy_node()
    rclpy.try_shutdown()


def measure(mode: str, seconds: float, env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, __file__, "--role", mode, "--seconds", str(seconds)], env=env,
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    _, _, cpu, rate = line.split()
    return float(cpu), float(rate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--role", choices=("bench", "publisher", "executor", "reader"), default="bench")
    args = ap.parse_args()
    if args.role == "publisher":
        publisher()
        return
    if args.role != "bench":
        subscriber(args.role, args.seconds)
        return
    from sigma_testing.domain import claim_domain

    with claim_domain() as domain:
        env = {**os.environ, **domain.env}
        pub = subprocess.Popen([sys.executable, __file__, "--role", "publisher"], env=env)
        try:
            time.sleep(2.0)
            results = {mode: measure(mode, args.seconds, env) for mode in ("executor", "reader")}
        finally:
            pub.terminate()
            pub.wait(10)
    sent = sum(rate for _, rate in TOPICS)
    for mode, (cpu, rate) in results.items():
        print(f"{mode:9s} {cpu:6.2f} % of one core, {rate:6.1f} messages/s taken of {sent:.0f} sent")
    ratio = results["reader"][0] / results["executor"][0]
    print(f"command: python bench/reader_overhead.py --seconds {args.seconds:g}")
    print(f"TopicReader {results['reader'][0]:.1f} % vs SingleThreadedExecutor {results['executor'][0]:.1f} % of one "
          f"core for {sent:.0f} messages/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()
