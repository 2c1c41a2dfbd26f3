"""Hazard published -> command blocked at the gate's output, across processes (sigma_safety).

Runs ``safety_node`` (supervisor + gate, one process) in a private ROS domain with the repository's config and
URDF. This process plays the hardware (every supervisor input at 50 Hz, both AIs healthy) and, per trial,
publishes a hazard and timestamps the gate's first blocking output:
  - human: a person detected 0.5 m away on ``humans`` -> protective stop -> the gate's zero ``driver/cmd_vel``;
  - estop: ``safety/estop`` pressed -> emergency stop -> ``driver/brake`` true (then an authorized reset).
Baseline in the same run: the same message type bounced through a plain echo process (this script with --echo,
on the same EventsExecutor as safety_node: one cross-process hop each way, like the hazard path), so the ratio is
the cost of the safety logic.

--loaded (issue #18): after the quiet trials, the same trials again while the machine also runs 10 simulated robots
(sim_node, real time, every topic, on their own ROS domain: one graph per robot) and the cloud tier ingesting
signed telemetry (embedded PostgreSQL + uvicorn, a separate load process posting --ingest-rate events/s).
safety_node runs with its configured real-time treatment (SCHED_FIFO 40 + mlockall where the OS allows; its log
says what it got); the echo and this process (the robot's driver stand-in) get the same, so the baseline sees the
same scheduling. --no-rt turns all of it off.

    source scripts/env.sh && python bench/safety_latency.py [--trials 1000] [--estop-trials 300] [--loaded]
A cyclictest-style probe (a SCHED_FIFO thread on a 1 ms timer) runs through each phase: the lateness of its
wake-ups is the floor the kernel and hypervisor put under any wake-up on the hazard path (printed with the
kernel's preemption model).
The last line is the headline: p99 of human-hazard -> blocked (quiet, and loaded with --loaded), and its ratio to
the plain echo's p99 under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from sigma_ros_common import qos, realtime
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


def echo_main(rt_priority: int) -> None:
    """The baseline's other end: republish ``in/DetectedHumans`` on ``out/DetectedHumans``."""
    from rclpy.experimental import EventsExecutor

    rclpy.init()
    node = rclpy.create_node("bench_echo")
    pub = node.create_publisher(DetectedHumans, "out/DetectedHumans", 10)
    node.create_subscription(DetectedHumans, "in/DetectedHumans", lambda m: pub.publish(m), 10)
    executor = EventsExecutor()
    executor.add_node(node)
    for warning in realtime.apply(rt_priority, rt_priority > 0):
        print(f"echo: {warning}", flush=True)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


class Load:
    """10 simulated robots in real time and the cloud tier ingesting telemetry, for as long as the block runs."""

    def __init__(self, robots: int, ingest_rate: float, env: dict[str, str], logs: Path) -> None:
        self.robots, self.ingest_rate, self.env, self.logs = robots, ingest_rate, env, logs
        self.procs: list[NodeProcess] = []
        self.stack = None
        self.domain = None

    def __enter__(self) -> Load:
        from cloud_common import Stack  # bench/: the cloud benchmarks' embedded PostgreSQL + uvicorn

        names = "[" + ",".join(f"load{i}" for i in range(self.robots)) + "]"
        # One ROS graph per robot (docs/architecture.md): the other robots run on their own DDS domain, so they
        # share this machine's cores, not the measured robot's DDS participants.
        self.domain = claim_domain()
        sim_env = {**self.env, **isolation_env(self.domain.domain_id)}
        sim = NodeProcess([executable("sigma_sim", "sim_node"), "--ros-args", "-p", f"robots:={names}"],
                          env=sim_env, log_path=self.logs / "load_sim.log", label="load sim")
        self.procs.append(sim)
        sim.wait_for_output("sigma_sim ready", timeout=120.0)
        self.stack = Stack().__enter__()
        robots = self.stack.register(10)
        (self.logs / "robots.json").write_text(json.dumps(robots))
        ingest = NodeProcess([sys.executable, __file__, "--ingest", self.stack.url, str(self.logs / "robots.json"),
                              str(self.ingest_rate)], env=self.env, log_path=self.logs / "load_ingest.log",
                             label="load ingest")
        self.procs.append(ingest)
        ingest.wait_for_output("acked", timeout=60.0)
        return self

    def describe(self) -> str:
        """What ran, from the load processes' own reports."""
        acked = [line for line in self.procs[1].output().splitlines() if line.startswith("acked")]
        return f"{self.robots} simulated robots + cloud ingest ({acked[-1] if acked else 'no ack'})"

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            p.stop()
        if self.stack is not None:
            self.stack.__exit__()
        if self.domain is not None:
            self.domain.release()


def ingest_main(url: str, robots_file: str, rate: float) -> None:
    """The load's cloud client: every robot posts signed batches of 50 events, together ``rate`` events/s."""
    import httpx
    from cloud_common import encode_batch_fast

    import sigma_protocol as protocol

    robots = json.loads(Path(robots_file).read_text())
    batch = 50
    period = batch * len(robots) / rate
    acked = [0]

    async def robot(client: httpx.AsyncClient, rid: str, seed: str) -> None:
        seq, next_at = 1, time.monotonic()
        while True:
            body = encode_batch_fast(rid, seq, batch, time.time())
            headers = protocol.sign_request(seed, "POST", protocol.INGEST_PATH, rid, body, time.time())
            headers["Content-Type"] = "application/json"
            r = await client.post(protocol.INGEST_PATH, content=body, headers=headers)
            if r.status_code == 200:
                acked[0] += r.json()["accepted"]
                seq += batch
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def report(start: float) -> None:
        while True:
            await asyncio.sleep(2.0)
            print(f"acked {acked[0]} events in {time.monotonic() - start:.0f} s "
                  f"({acked[0] / (time.monotonic() - start):.0f}/s)", flush=True)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.gather(report(time.monotonic()), *(robot(client, rid, seed) for rid, seed in robots))

    with contextlib.suppress(KeyboardInterrupt):  # stopped by the bench (SIGINT)
        asyncio.run(run())


def floor_main(rt_priority: int) -> None:
    """The OS's own floor (cyclictest-style): a SCHED_FIFO thread wakes every 1 ms on an absolute deadline and
    records how late it ran, until SIGTERM; then prints the lateness [s] as JSON. No ROS, no Python work between
    wake-ups: what it sees is what the kernel and the hypervisor add to any wake-up on the hazard path."""
    import signal

    if rt_priority > 0:
        for warning in realtime.apply(rt_priority, True):
            print(f"floor: {warning}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    late: list[float] = []
    period = 1_000_000
    deadline = time.monotonic_ns()
    while not stop.is_set():
        deadline += period
        delay = deadline - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        late.append(max(0, time.monotonic_ns() - deadline) / 1e9)
        if late[-1] > 0.1:  # a missed stretch (suspended): start again from now, do not count the catch-up
            deadline = time.monotonic_ns()
    print(json.dumps(late), flush=True)


class Floor:
    """A floor probe process for the duration of one phase (context manager); ``late`` after exit."""

    def __init__(self, rt_priority: int) -> None:
        import subprocess

        self._proc = subprocess.Popen([sys.executable, __file__, "--floor", str(rt_priority)],
                                      stdout=subprocess.PIPE, text=True)
        self.late: list[float] = []

    def __enter__(self) -> Floor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        out, _ = self._proc.communicate(timeout=60)
        self.late = json.loads(out) if out.strip() else []


def trials(bench: Bench, n: int, n_estop: int) -> tuple[list[float], list[float], list[float]]:
    """Interleaved human-hazard, echo and e-stop trials (all three see the same machine load)."""
    for _ in range(20):  # warm-up (discovery, first-message allocations)
        bench.human_trial()
        bench.echo_trial()
    human, estop, base = [], [], []
    for i in range(n):
        human.append(bench.human_trial())
        base.append(bench.echo_trial())
        if i % max(1, n // max(1, n_estop)) == 0 and len(estop) < n_estop:
            estop.append(bench.estop_trial())
    return human, estop, base


def main() -> None:
    """Run the benchmark and print the headline last."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000, help="human-hazard trials (and baseline trials) per phase")
    ap.add_argument("--estop-trials", type=int, default=300, help="e-stop button trials per phase")
    ap.add_argument("--loaded", action="store_true", help="also measure under load (10 sim robots + cloud ingest)")
    ap.add_argument("--robots", type=int, default=10, help="simulated robots of the load")
    ap.add_argument("--ingest-rate", type=float, default=2000.0, help="cloud ingest load [events/s]")
    ap.add_argument("--no-rt", action="store_true", help="no SCHED_FIFO / mlockall anywhere (normal scheduling)")
    ap.add_argument("--echo", type=int, metavar="PRIO", help="internal: run as the baseline's echo process")
    ap.add_argument("--floor", type=int, metavar="PRIO", help="internal: run as the OS wake-up floor probe")
    ap.add_argument("--ingest", nargs=3, metavar=("URL", "ROBOTS", "RATE"), help="internal: the ingest load")
    a = ap.parse_args()
    if a.echo is not None:
        echo_main(a.echo)
        return
    if a.floor is not None:
        floor_main(a.floor)
        return
    if a.ingest:
        ingest_main(a.ingest[0], a.ingest[1], float(a.ingest[2]))
        return
    domain = claim_domain()
    for k, v in isolation_env(domain.domain_id).items():
        os.environ[k] = v
    env = dict(os.environ, SIGMA_SAFETY_RESET_TOKEN=TOKEN)
    logs = Path(tempfile.mkdtemp(prefix="safety-bench-"))
    config = package_share("sigma_safety") / "config" / "safety.yaml"
    prio = 0 if a.no_rt else 40
    rt = {"realtime_priority": 0, "lock_memory": False} if a.no_rt else {}
    safety = NodeProcess([executable("sigma_safety", "safety_node"),
                          *ros_args(params_files=[config], params={"human_proximity.resume_delay": 0.0, **rt})],
                         env=env, log_path=logs / "safety_node.log", label="safety_node")
    echo = NodeProcess([sys.executable, __file__, "--echo", str(prio)], env=env, log_path=logs / "echo.log",
                       label="echo")
    sys.setswitchinterval(1e-4)  # this process has two Python threads (timestamps, spin): hand the GIL over fast
    bench = Bench(domain.domain_id)
    for warning in realtime.apply(prio, prio > 0):  # the driver stand-in, like a robot's driver
        print(f"bench: {warning}", flush=True)
    results: dict[str, tuple[list[float], list[float], list[float]]] = {}
    load_text = ""
    floors: dict[str, list[float]] = {}
    try:
        bench.wait(lambda: bench.level == SafetyStatus.LEVEL_NOMINAL, timeout=30.0)
        deadline = time.monotonic() + 30.0
        while bench.echo_pub.get_subscription_count() < 1 or bench.node.count_publishers("out/DetectedHumans") < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("bench: the echo process never appeared (see its log)")
            time.sleep(0.05)
        with Floor(prio) as floor:
            results["quiet"] = trials(bench, a.trials, a.estop_trials)
        floors["quiet"] = floor.late
        if a.loaded:
            with Load(a.robots, a.ingest_rate, env, logs) as load:
                with Floor(prio) as floor:
                    results["loaded"] = trials(bench, a.trials, a.estop_trials)
                floors["loaded"] = floor.late
                load_text = load.describe()
    finally:
        bench.close()
        codes = (safety.stop(), echo.stop())
        domain.release()
    sched = [line.split("process scheduling: ")[1] for line in safety.output().splitlines()
             if "process scheduling: " in line]
    for phase, (human, estop, base) in results.items():
        print(f"--- {phase}{': ' + load_text if phase == 'loaded' else ''}")
        print(summary("baseline echo round trip", base))
        print(summary("human -> gate zero cmd_vel", human))
        print(summary("e-stop -> driver/brake", estop))
        if floors.get(phase):
            late = floors[phase]
            print(summary("OS floor: 1 ms timer lateness", late) + f"  p99.9={pct(late, 99.9) * 1e3:6.2f} ms")
    print(f"(kernel preemption model: {realtime.kernel_preemption()}; logs in {logs}; safety_node "
          f"{sched[0] if sched else 'scheduling unknown'}; exit codes "
          f"safety_node={codes[0]} echo={codes[1]})")
    parts = [f"{phase} p99 {pct(h, 99) * 1e3:.2f} ms ({pct(h, 99) / pct(b, 99):.2f}x the echo's "
             f"{pct(b, 99) * 1e3:.2f} ms; OS wake-up floor p99/p99.9 "
             f"{pct(floors[phase], 99) * 1e3:.2f}/{pct(floors[phase], 99.9) * 1e3:.2f} ms)"
             for phase, (h, _, b) in results.items()]
    print(f"hazard->blocked across processes, {a.trials} trials per phase: " + "; ".join(parts))


if __name__ == "__main__":
    main()
