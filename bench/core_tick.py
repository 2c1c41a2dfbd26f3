"""sigma_core: pipeline tick time, and the CPU of the whole onboard stack of one robot measured together.

Run: source scripts/env.sh && python bench/core_tick.py [--seconds S] [--ticks N]

1. In process: N ticks of the pure pipeline at 20 Hz simulated time, driving a delivery on the warehouse map against
   a kinematic stand-in (perception → reasoning → self-evaluation → arbitration → behaviour tree → synthesis):
   tick p50/p99/max, including the ticks that plan a path (A*).
2. Across processes, in a private ROS domain: sim_node (one robot, real time — the hardware stand-in, not counted)
   and the robot's onboard nodes as robot.launch.yaml starts them — safety_node, state_publisher, bridge_node
   (cloud disabled: the uplink queue and Foxglove still run), twin_node, swarm_node (mesh off without a roster
   key) and fleet_tasks_node when installed, core_node — while core_node executes deliveries.
   CPU share of one core per process = (utime + stime) / wall over S seconds from /proc, after a warm-up; the
   sum is the onboard stack. core_node's own tick p50/p99 (whole timer callback incl. publishing) comes from its
   exit summary.
3. A same-run reference for the CPU figure (round 21): a bare rclpy process that only takes the robot's sensor
   streams (joint_states, imu, odom, serialized, on the EventsExecutor, callbacks that do nothing) — the floor one
   ROS 2 process pays for them on this host. The stack is also printed as a multiple of it, since the absolute
   share moves with the host (docs/core.md "Measured").
The last line is the headline.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from sigma_core.core.perception import SafetyView
from sigma_core.core.pipeline import Pipeline
from sigma_core.core.sitemap import load_site
from sigma_core.core.tasks import Kind, TaskSpec
from sigma_ros_common.share import package_share, share_file
from sigma_testing.domain import claim_domain
from sigma_testing.process import NodeProcess, cpu_seconds, executable, ros_args

TASKS = [("shelf_1_0", "shelf_0_0"), ("shelf_0_0", "shelf_2_0"), ("shelf_2_0", "shelf_3_0"), ("shelf_3_0", "shelf_1_0")]


def pure_ticks(n: int, cpu: list[float] | None = None) -> list[float]:
    """Durations [s] of ``n`` pipeline ticks in closed loop with a kinematic base (deliveries back to back); the CPU
    time of each tick (this thread's, immune to preemption by other processes) is appended to ``cpu``."""
    site = load_site(share_file("sigma_sim", "worlds", "warehouse.yaml"))
    p = Pipeline(site)
    x, y, yaw, k = -10.0, 0.0, 0.0, 0
    joints = dict.fromkeys(("left_shoulder_pitch", "right_shoulder_pitch", "left_elbow", "right_elbow"), 0.0)
    durations, dt = [], 0.05
    for i in range(n):
        t = i * dt
        per = p.perception
        per.update_odom(x, y, yaw, 0.0, 0.0, t)
        per.update_joints(list(joints), list(joints.values()), t)
        per.update_humans([], t)
        per.update_battery(0.9, False, t)
        per.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), t)
        if p.executor.spec is None:
            pick, drop = TASKS[k % len(TASKS)]
            p.submit_task(TaskSpec(f"b{k}", Kind.DELIVER, pickup=pick, dropoff=drop, payload_mass=3.0), t)
            k += 1
        t0, c0 = time.perf_counter(), time.thread_time()
        out = p.tick(t)
        durations.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.thread_time() - c0)
        if out.payload_request is not None:
            p.confirm_payload(out.payload_request)
        if out.command is not None and out.channel:
            yaw += out.command.wz * dt
            x += out.command.vx * math.cos(yaw) * dt
            y += out.command.vx * math.sin(yaw) * dt
            for name, target in (out.command.joints or {}).items():
                joints[name] += max(-0.1, min(0.1, target - joints[name]))
    print(f"in-process deliveries completed: {k - 1}")
    return durations


def baseline_node() -> None:
    """The baseline: a 20 Hz timer that publishes what core_node publishes per tick (Twist, PolicyHealth,
    TaskStatus) without the pipeline, timing its callbacks the same way; prints the same summary on exit."""
    import signal
    import sys

    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import ExternalShutdownException

    from sigma_interfaces.msg import PolicyHealth, TaskStatus

    rclpy.init()
    node = rclpy.create_node("baseline_tick", namespace="/r1")
    pubs = (node.create_publisher(Twist, "cmd/edge_ai/cmd_vel", 10), node.create_publisher(PolicyHealth,
            "baseline/policy_health", 10), node.create_publisher(TaskStatus, "baseline/tasks/status", 10))
    durations: list[float] = []

    def tick() -> None:
        t0 = time.perf_counter()
        pubs[0].publish(Twist())
        pubs[1].publish(PolicyHealth(confidence=1.0))
        pubs[2].publish(TaskStatus(task_id="baseline"))
        durations.append(time.perf_counter() - t0)

    node.create_timer(0.05, tick)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("baseline ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException, SystemExit):
        rclpy.spin(node)
    ms = sorted(1e3 * d for d in durations) or [float("nan")]
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(f"baseline summary: ticks {len(ms)} p50 {ms[len(ms) // 2]:.3f} ms p99 {p99:.3f} ms", flush=True)




def reference_node() -> None:
    """The CPU reference: a bare rclpy process subscribed, serialized, to the sensor topics the onboard nodes take
    (joint_states, imu, odom), with callbacks that only count, in the onboard nodes' own shell
    (``sigma_ros_common.spin.run`` on the EventsExecutor: spin_once turns; rclpy's ``EventsExecutor.spin()`` itself
    took 65 % of a core with nothing to do here)."""
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from sensor_msgs.msg import Imu, JointState

    from sigma_ros_common import qos
    from sigma_ros_common.spin import events_executor, run

    taken = [0]

    def take(_raw: bytes) -> None:
        taken[0] += 1

    def make() -> list[Node]:
        node = Node("sensor_reference", namespace="/r1")
        for msg_type, topic in ((JointState, "joint_states"), (Imu, "imu"), (Odometry, "odom")):
            node.create_subscription(msg_type, topic, take, qos.SENSOR, raw=True)
        print("reference ready", flush=True)
        return [node]

    run("sensor_reference", make, executor_for=lambda _nodes: events_executor(),
        on_exit=lambda _nodes: print(f"reference summary: messages taken {taken[0]}", flush=True))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def world_file(tmp: Path) -> Path:
    import yaml

    share = package_share("sigma_sim") / "worlds"
    w = yaml.safe_load((share / "warehouse.yaml").read_text())
    w.update(mjcf=str(share / w["mjcf"]), spawns=[[-10.0, 0.0, 0.0]])
    path = tmp / "world.yaml"
    path.write_text(yaml.safe_dump(w))
    return path


def stack(seconds: float) -> tuple[dict[str, float], float, str]:
    """CPU share of one core per onboard process while core_node runs deliveries, the reference process's share in
    the same window, and core_node's summary line."""
    import rclpy
    from rclpy.node import Node

    from sigma_interfaces.msg import Task, TaskStatus

    tmp = Path(tempfile.mkdtemp(prefix="bench-core-"))
    with claim_domain() as domain:
        env = {**domain.env, "SIGMA_SAFETY_RESET_TOKEN": "bench-token-not-secret"}
        ns = "/r1"

        def start(pkg: str, exe: str, label: str, **kw) -> NodeProcess:
            return NodeProcess([executable(pkg, exe), *ros_args(**kw)], env=env, log_path=tmp / f"{label}.log",
                               label=label)

        sim = start("sigma_sim", "sim_node", "sim", params={"robots": ["r1"], "world": str(world_file(tmp))})
        sim.wait_for_output("sigma_sim ready", timeout=90)
        onboard = [
            start("sigma_safety", "safety_node", "safety_node", namespace=ns,
                  params_files=[share_file("sigma_safety", "config", "safety.yaml")]),
            start("sigma_state_publisher", "state_publisher", "state_publisher", namespace=ns,
                  params_files=[share_file("sigma_state_publisher", "config", "state_publisher.yaml")],
                  params={"robot_id": "r1"}),
            start("sigma_bridge", "bridge_node", "bridge_node", namespace=ns,
                  params_files=[share_file("sigma_bridge", "config", "bridge.yaml")],
                  params={"robot_id": "r1", "cloud_url": "", "foxglove_port": 0,
                          "key_file": str(tmp / "robot.key"), "store_path": str(tmp / "uplink.db"),
                          "recordings_dir": str(tmp / "rec")}),
        ]
        absent = []
        for pkg, exe, cfg, extra in (
            ("sigma_twin", "twin_node", "twin.yaml", {}),
            ("sigma_swarm", "swarm_node", "swarm.yaml",
             {"robot_id": "r1", "site": "warehouse", "key_file": str(tmp / "robot.key"),
              "roster_file": str(tmp / "roster.json"), "state_file": str(tmp / "swarm_state.json")}),
            ("sigma_fleet_tasks", "fleet_tasks_node", "fleet_tasks.yaml", {"robot_id": "r1"}),
        ):
            try:
                onboard.append(start(pkg, exe, exe, namespace=ns, params_files=[share_file(pkg, "config", cfg)],
                                     params=extra))
            except (LookupError, ValueError, FileNotFoundError) as exc:
                absent.append(f"{pkg} ({exc})")
        onboard.append(start("sigma_core", "core_node", "core_node", namespace=ns,
                             params_files=[share_file("sigma_core", "config", "core.yaml")]))
        import sys

        base = NodeProcess([sys.executable, __file__, "--baseline"], env=env, log_path=tmp / "baseline.log",
                           label="baseline")
        reference = NodeProcess([sys.executable, __file__, "--reference"], env=env, log_path=tmp / "reference.log",
                                label="reference")
        rclpy.init(args=[], domain_id=int(env["ROS_DOMAIN_ID"]))
        node = Node("bench_core")
        pub = node.create_publisher(Task, f"{ns}/tasks/request", 20)
        done: list[str] = []
        node.create_subscription(TaskStatus, f"{ns}/tasks/status",
                                 lambda m: done.append(m.task_id) if m.state >= TaskStatus.STATE_SUCCEEDED else None,
                                 50)
        k = 0
        try:
            onboard[-1].wait_for_output("commander: mechanical_fallback -> edge_ai", timeout=90)

            def feed() -> None:
                nonlocal k
                if k == 0 or f"s{k - 1}" in done:
                    pick, drop = TASKS[k % len(TASKS)]
                    pub.publish(Task(task_id=f"s{k}", issuer="bench", kind=Task.KIND_DELIVER, pickup=pick,
                                     dropoff=drop, payload_mass=3.0))
                    k += 1

            end = time.monotonic() + 5.0            # warm-up: discovery, first task under way
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.1)
                feed()
            c0 = {p.label: cpu_seconds(p.popen.pid) for p in (*onboard, reference)}
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds:
                rclpy.spin_once(node, timeout_sec=0.1)
                feed()
            wall = time.monotonic() - t0
            share = {p.label: (cpu_seconds(p.popen.pid) - c0[p.label]) / wall for p in onboard}
            floor = (cpu_seconds(reference.popen.pid) - c0[reference.label]) / wall
        finally:
            node.destroy_node()
            rclpy.shutdown()
            base.stop()
            reference.stop()
            for p in reversed(onboard):
                p.stop()
            sim.stop()
        summary = next((ln for ln in onboard[-1].output().splitlines() if "sigma_core summary" in ln), "")
        summary += "\n" + next((ln for ln in base.output().splitlines() if "baseline summary" in ln),
                               "baseline printed no summary")
        summary += "\n" + next((ln for ln in reference.output().splitlines() if "reference summary" in ln),
                               "reference printed no summary")
        print(f"tasks issued during the run: {k}, finished: {len(set(done))}; logs in {tmp}")
        for a in absent:
            print(f"  not measured: {a}")
        return share, floor, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="CPU measurement window of the process stack")
    ap.add_argument("--ticks", type=int, default=20000, help="in-process pipeline ticks")
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline:
        baseline_node()
        return
    if args.reference:
        reference_node()
        return
    print(f"load average before the run: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    cpu: list[float] = []
    d = pure_ticks(args.ticks, cpu)
    ms, cms = [1e3 * v for v in d], [1e3 * v for v in cpu]
    print(f"pure pipeline tick ({len(d)} ticks): p50 {pct(ms, 0.5):.3f} ms, p99 {pct(ms, 0.99):.3f} ms, "
          f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.3f} ms; its CPU p50 {pct(cms, 0.5):.3f} ms, "
          f"p99 {pct(cms, 0.99):.3f} ms, max {max(cms):.1f} ms")
    share, floor, summary = stack(args.seconds)
    for label, s in share.items():
        print(f"  {label:16s} {100 * s:5.1f}% of one core")
    print(f"  reference        {100 * floor:5.1f}% of one core (a bare rclpy process taking joint_states, imu and "
          "odom serialized; not part of the stack)")
    print(summary or "core_node printed no summary")
    m = re.search(r"sigma_core summary.*?p50 ([\d.]+) ms p99 ([\d.]+) ms", summary)
    c = re.search(r"tick CPU p50 ([\d.]+) ms p99 ([\d.]+) ms", summary)
    b = re.search(r"baseline summary.*p50 ([\d.]+) ms p99 ([\d.]+) ms", summary)
    total = 100 * sum(share.values())
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    print(f"command: python bench/core_tick.py --seconds {args.seconds:g} --ticks {args.ticks}")
    ratio = f"{float(m.group(2)) / float(b.group(2)):.2f}x" if m and b and float(b.group(2)) > 0 else "?"
    print(f"core_node tick p50 {m.group(1) if m else '?'} ms, p99 {m.group(2) if m else '?'} ms (goal p99 <= 10 ms; "
          f"{ratio} the publish-only baseline's p99 {b.group(2) if b else '?'} ms), its CPU p99 "
          f"{c.group(2) if c else '?'} ms; "
          f"onboard stack {total:.1f}% of one core per robot (goal <= 50%; "
          f"{total / max(100 * floor, 1e-9):.1f}x the same-run reference {100 * floor:.1f}%)")


if __name__ == "__main__":
    main()
