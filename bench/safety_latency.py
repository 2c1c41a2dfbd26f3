"""Hazard published -> command blocked at the gate's output, across processes (sigma_safety).

Runs ``safety_node`` (supervisor + gate, one process) in a private ROS domain with the repository's config and
URDF. This process plays the hardware (every supervisor input at 50 Hz, both AIs healthy) and, per trial,
publishes a hazard and timestamps the gate's first blocking output:
  - human: a person detected 0.5 m away on ``humans`` -> protective stop -> the gate's zero ``driver/cmd_vel``;
  - estop: ``safety/estop`` pressed -> emergency stop -> ``driver/brake`` true (then an authorized reset).
Baseline in the same run: the same message type bounced through a plain echo process (this script with --echo,
on the same EventsExecutor as safety_node: one cross-process hop each way, like the hazard path), so the ratio is
the cost of the safety logic.

    source scripts/env.sh && python bench/safety_latency.py [--trials 1000] [--estop-trials 300]
The last line is the headline: p99 of human-hazard -> blocked, and its ratio to the baseline p99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import rclpy
from geometry_msgs.msg import Point, Twist
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from sensor_msgs.msg import BatteryState, Imu, JointState
from std_msgs.msg import Bool

from sigma_description import humanoid_urdf
from sigma_interfaces.msg import (
    ActuatorHealth,
    CognitionDecision,
    DetectedHuman,
    DetectedHumans,
    PolicyHealth,
    SafetyStatus,
)
from sigma_interfaces.srv import ResetSafety
from sigma_ros_common import qos
from sigma_ros_common.share import package_share
from sigma_safety.core.urdf import load_joint_limits
from sigma_testing.domain import claim_domain, isolation_env
from sigma_testing.process import NodeProcess, executable, ros_args

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-only-token"


def pct(values: list[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] (nearest rank)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


class Bench:
    """The in-bench node: hardware stand-in, hazard publisher and output timestamps."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = rclpy.create_node("safety_bench", context=self.ctx)
        self.names = list(load_joint_limits(humanoid_urdf()))
        n = self.node
        self.pub = {
            "joint_states": n.create_publisher(JointState, "joint_states", qos.SENSOR),
            "imu": n.create_publisher(Imu, "imu", qos.SENSOR),
            "actuator_health": n.create_publisher(ActuatorHealth, "actuator_health", qos.reliable(10)),
            "odom": n.create_publisher(Odometry, "odom", qos.SENSOR),
            "battery_state": n.create_publisher(BatteryState, "battery_state", qos.reliable(10)),
            "policy_health": n.create_publisher(PolicyHealth, "policy_health", qos.reliable(10)),
        }
        self.humans_pub = n.create_publisher(DetectedHumans, "humans", qos.reliable(10))
        # the hazard has its own writer: publishing never waits behind the feeder thread's writer
        self.hazard_pub = n.create_publisher(DetectedHumans, "humans", qos.reliable(10))
        self.estop_pub = n.create_publisher(Bool, "safety/estop", qos.reliable(10))
        self.echo_pub = n.create_publisher(DetectedHumans, "in/DetectedHumans", 10)
        self.cmd_pub = n.create_publisher(Twist, "cmd/primary_ai/cmd_vel", qos.COMMANDS)
        self.moving_at: float | None = None
        self.cond = threading.Condition()
        self.level: int | None = None
        self.zero_twist_at: float | None = None
        self.brake_at: float | None = None
        self.echo_at: float | None = None
        self.human_close = False
        n.create_subscription(SafetyStatus, "safety/status", self._on_status, qos.LATCHED)
        n.create_subscription(Twist, "driver/cmd_vel", self._on_twist, qos.COMMANDS)
        n.create_subscription(Bool, "driver/brake", self._on_brake, qos.LATCHED)
        n.create_subscription(DetectedHumans, "out/DetectedHumans", self._on_echo, 10)
        n.create_timer(0.02, self._feed)
        self.reset = n.create_client(ResetSafety, "safety/reset")
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.ctx.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:
                if not self.ctx.ok():
                    return
                raise

    def _note(self, attr: str) -> None:
        t = time.perf_counter()
        with self.cond:
            if getattr(self, attr) is None:
                setattr(self, attr, t)
            self.cond.notify_all()

    def _on_status(self, m: SafetyStatus) -> None:
        with self.cond:
            self.level = m.level
            self.cond.notify_all()

    def _on_twist(self, m: Twist) -> None:
        if m.linear.x == 0.0 and m.linear.y == 0.0 and m.angular.z == 0.0:
            self._note("zero_twist_at")
        else:
            self._note("moving_at")

    def sync(self) -> None:
        """Wait for NOMINAL, then for one command to pass the gate: every earlier gate output has arrived."""
        self.wait(lambda: self.level == SafetyStatus.LEVEL_NOMINAL)
        with self.cond:
            self.moving_at = None
        cmd = Twist()
        cmd.linear.x = 0.3
        deadline = time.monotonic() + 10.0
        while True:  # the gate may get the NOMINAL state a moment after we see it: retry until one passes
            self.cmd_pub.publish(cmd)
            with self.cond:
                if self.cond.wait_for(lambda: self.moving_at is not None, 0.02):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("bench: no command passes the gate")
        with self.cond:
            self.zero_twist_at = None
            self.brake_at = None

    def _on_brake(self, m: Bool) -> None:
        if m.data:
            self._note("brake_at")

    def _on_echo(self, m: DetectedHumans) -> None:
        self._note("echo_at")

    def humans_msg(self) -> DetectedHumans:
        """Nobody, or one person 0.5 m in front."""
        hs = [DetectedHuman(id="p", position=Point(x=0.5), confidence=1.0)] if self.human_close else []
        return DetectedHumans(humans=hs, sensor_range=8.0, field_of_view=2.4)

    def _feed(self) -> None:
        js = JointState(name=self.names, position=[0.0] * len(self.names), velocity=[0.0] * len(self.names),
                        effort=[0.0] * len(self.names))
        self.pub["joint_states"].publish(js)
        imu = Imu()
        imu.orientation.w, imu.linear_acceleration.z = 1.0, 9.81
        self.pub["imu"].publish(imu)
        k = len(self.names)
        self.pub["actuator_health"].publish(ActuatorHealth(name=self.names, winding_temperature=[40.0] * k,
                                                           housing_temperature=[35.0] * k, current=[1.0] * k,
                                                           supply_voltage=[48.0] * k))
        odom = Odometry()
        odom.pose.pose.position.x, odom.pose.pose.orientation.w = -10.0, 1.0
        self.pub["odom"].publish(odom)
        self.pub["battery_state"].publish(BatteryState(voltage=48.0, percentage=0.8))
        for src in (CognitionDecision.SOURCE_PRIMARY_AI, CognitionDecision.SOURCE_EDGE_AI):
            self.pub["policy_health"].publish(PolicyHealth(source=src, confidence=0.9))
        self.humans_pub.publish(self.humans_msg())

    def wait(self, pred, timeout: float = 10.0, what: str = "safety_node") -> None:
        """Block until ``pred()`` (under the lock) holds."""
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise TimeoutError(f"bench: no answer from {what} within {timeout} s (see its log)")

    def human_trial(self) -> float:
        """Seconds from the hazard publication to the gate's zero twist."""
        self.sync()
        self.human_close = True
        hazard = self.humans_msg()
        t0 = time.perf_counter()
        self.hazard_pub.publish(hazard)
        self.wait(lambda: self.zero_twist_at is not None)
        dt = self.zero_twist_at - t0
        self.human_close = False
        self.hazard_pub.publish(self.humans_msg())
        return dt

    def estop_trial(self) -> float:
        """Seconds from the e-stop button press to ``driver/brake`` true (then released and reset)."""
        self.sync()
        t0 = time.perf_counter()
        self.estop_pub.publish(Bool(data=True))
        self.wait(lambda: self.brake_at is not None)
        dt = self.brake_at - t0
        self.estop_pub.publish(Bool(data=False))
        self.wait(lambda: self.level == SafetyStatus.LEVEL_EMERGENCY_STOP)
        for _ in range(100):
            fut = self.reset.call_async(ResetSafety.Request(requester="bench", authorization_token=TOKEN))
            while not fut.done():
                time.sleep(0.001)
            if fut.result().success:
                break
            time.sleep(0.01)  # the button release may not have been evaluated yet
        return dt

    def echo_trial(self) -> float:
        """Seconds for one plain hop out and back through echo_node."""
        with self.cond:
            self.echo_at = None
        t0 = time.perf_counter()
        self.echo_pub.publish(self.humans_msg())
        self.wait(lambda: self.echo_at is not None, what="the echo")
        return self.echo_at - t0

    def close(self) -> None:
        """Shut the bench node down."""
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


def summary(name: str, xs: list[float]) -> str:
    """One line of p50/p90/p99/max in milliseconds."""
    ms = [x * 1e3 for x in xs]
    return (f"{name:<28} n={len(ms):5d}  p50={statistics.median(ms):6.2f} ms  p90={pct(ms, 90):6.2f} ms  "
            f"p99={pct(ms, 99):6.2f} ms  max={max(ms):6.2f} ms")


def echo_main() -> None:
    """The baseline's other end: republish ``in/DetectedHumans`` on ``out/DetectedHumans``."""
    from rclpy.experimental import EventsExecutor

    rclpy.init()
    node = rclpy.create_node("bench_echo")
    pub = node.create_publisher(DetectedHumans, "out/DetectedHumans", 10)
    node.create_subscription(DetectedHumans, "in/DetectedHumans", lambda m: pub.publish(m), 10)
    executor = EventsExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


def main() -> None:
    """Run the benchmark and print the headline last."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000, help="human-hazard trials (and baseline trials)")
    ap.add_argument("--estop-trials", type=int, default=300, help="e-stop button trials")
    ap.add_argument("--echo", action="store_true", help="internal: run as the baseline's echo process")
    a = ap.parse_args()
    if a.echo:
        echo_main()
        return
    domain = claim_domain()
    for k, v in isolation_env(domain.domain_id).items():
        os.environ[k] = v
    env = dict(os.environ, SIGMA_SAFETY_RESET_TOKEN=TOKEN)
    logs = Path(tempfile.mkdtemp(prefix="safety-bench-"))
    config = package_share("sigma_safety") / "config" / "safety.yaml"
    safety = NodeProcess([executable("sigma_safety", "safety_node"),
                          *ros_args(params_files=[config], params={"human_proximity.resume_delay": 0.0})],
                         env=env, log_path=logs / "safety_node.log", label="safety_node")
    echo = NodeProcess([sys.executable, __file__, "--echo"], env=env, log_path=logs / "echo.log", label="echo")
    bench = Bench(domain.domain_id)
    try:
        bench.wait(lambda: bench.level == SafetyStatus.LEVEL_NOMINAL, timeout=30.0)
        deadline = time.monotonic() + 30.0
        while bench.echo_pub.get_subscription_count() < 1 or bench.node.count_publishers("out/DetectedHumans") < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("bench: the echo process never appeared (see its log)")
            time.sleep(0.05)
        for _ in range(20):  # warm-up (discovery, first-message allocations)
            bench.human_trial()
            bench.echo_trial()
        human, estop, base = [], [], []
        for i in range(a.trials):  # interleaved, so that all three see the same machine load
            human.append(bench.human_trial())
            base.append(bench.echo_trial())
            if i % max(1, a.trials // max(1, a.estop_trials)) == 0 and len(estop) < a.estop_trials:
                estop.append(bench.estop_trial())
    finally:
        bench.close()
        codes = (safety.stop(), echo.stop())
        domain.release()
    print(summary("baseline echo round trip", base))
    print(summary("human -> gate zero cmd_vel", human))
    print(summary("e-stop -> driver/brake", estop))
    print(f"(logs in {logs}; exit codes safety_node={codes[0]} echo={codes[1]})")
    print(f"hazard->blocked p99 {pct(human, 99) * 1e3:.2f} ms (p50 {statistics.median(human) * 1e3:.2f} ms, "
          f"e-stop p99 {pct(estop, 99) * 1e3:.2f} ms) over {len(human)} trials across processes; "
          f"{pct(human, 99) / pct(base, 99):.2f}x the plain echo round trip p99 {pct(base, 99) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
