"""Real-time factor of sigma_sim for 1, 5 and 10 robots at 500 Hz physics with every topic published.

Run: source scripts/env.sh && python bench/sim_rtf.py [--seconds S]

Each robot count runs in a fresh process (own private ROS domain): the sim node itself, unpaced (as fast as possible,
publishing /clock and all six per-robot topics at their configured rates from one loop), for S wall seconds; then
the physics alone (Simulation.step, no ROS) as the baseline in the same process. Real-time factor = simulated
seconds / wall seconds ("per CPU": simulated seconds per CPU second the sim process got, which
separates the sim's own cost from other load on a shared machine); CPU per robot = process CPU seconds per
simulated second / robots. No subscribers are
attached (DDS skips the network send for unmatched topics, but every message is still built and published).
Then the sim_node executable paced to real time with 10 robots: the share of one core it uses and how much
simulated time it had to drop (stalls longer than max_catch_up_steps) to stay with the wall clock.
The last line is the headline: the real-time factor with 10 robots (goal >= 1.0 on this 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

COUNTS = (1, 5, 10)


def child(n: int, seconds: float) -> dict[str, float]:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from sigma_sim.node import SimNode

    robots = "[" + ",".join(f"r{i}" for i in range(n)) + "]"
    rclpy.init(args=["--ros-args", "-p", f"robots:={robots}", "-p", "realtime:=false", "-p", "physics_rate:=500.0"])
    node = SimNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def run(wall: float) -> tuple[float, float, float]:
        sim0, cpu0, t0 = node.sim.time, time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < wall:
            executor.spin_once(timeout_sec=0.0)
            node.advance_unpaced()
        return node.sim.time - sim0, time.process_time() - cpu0, time.perf_counter() - t0

    run(0.5)  # warm-up
    sim_s, cpu_s, wall_s = run(seconds)
    msgs_per_sim_s = n * sum(node.params.rates.values()) + 1 * 100.0  # + /clock per tick
    # baseline: physics and device models only
    sim = node.sim
    sim0, cpu0, t0 = sim.time, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds / 2:
        sim.step(5)
    base_sim, base_cpu, base_wall = sim.time - sim0, time.process_time() - cpu0, time.perf_counter() - t0
    node.destroy_node()
    rclpy.shutdown()
    return {
        "robots": n, "rtf": sim_s / wall_s, "cpu_rtf": sim_s / cpu_s,
        "cpu_ms_per_sim_s_per_robot": 1000 * cpu_s / sim_s / n,
        "physics_rtf": base_sim / base_wall, "physics_cpu_ms_per_sim_s_per_robot": 1000 * base_cpu / base_sim / n,
        "msgs_per_s": msgs_per_sim_s * sim_s / wall_s,
    }


def realtime_cpu(n: int, seconds: float, env: dict[str, str]) -> tuple[float, float, str]:
    """The sim_node executable paced to real time with n robots: (share of one core used, fraction of simulated
    time it had to drop to stay with the wall clock, its summary line)."""
    from ament_index_python.packages import get_package_prefix

    exe = os.path.join(get_package_prefix("sigma_sim"), "lib", "sigma_sim", "sim_node")
    robots = "[" + ",".join(f"r{i}" for i in range(n)) + "]"
    proc = subprocess.Popen([exe, "--ros-args", "-p", f"robots:={robots}"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3.0)  # start-up and discovery, not measured
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        c0, t0 = cpu(), time.perf_counter()
        time.sleep(seconds)
        share = (cpu() - c0) / (time.perf_counter() - t0)
    finally:
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=20)
    line = next((x for x in out.splitlines() if x.startswith("sigma_sim summary:")), "")
    fields = dict(f.split("=") for f in line.split()[2:])
    sim_s, dropped = float(fields.get("sim_time", "0").rstrip("s")), float(fields.get("dropped", "0").rstrip("s"))
    return share, dropped / max(sim_s + dropped, 1e-9), line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="wall seconds measured per robot count")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seconds)))
        return
    from sigma_testing.domain import claim_domain

    print(f"sigma_sim real-time factor, 500 Hz physics, all topics, {os.cpu_count()} CPUs, {args.seconds:g} s each")
    print(f"{'robots':>6} {'RTF node':>9} {'RTF per CPU':>12} {'RTF physics':>12} {'CPU ms/sim-s/robot':>19} "
          f"{'(physics)':>10} {'msgs/s':>8}")
    results = []
    for n in COUNTS:
        with claim_domain() as domain:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), "--seconds", str(args.seconds)],
                env=domain.env, capture_output=True, text=True, check=True, timeout=120,
            ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        print(f"{n:>6} {r['rtf']:>9.2f} {r['cpu_rtf']:>12.2f} {r['physics_rtf']:>12.2f} "
              f"{r['cpu_ms_per_sim_s_per_robot']:>19.1f} "
              f"{r['physics_cpu_ms_per_sim_s_per_robot']:>10.1f} {r['msgs_per_s']:>8.0f}")
    with claim_domain() as domain:
        share, dropped, line = realtime_cpu(10, args.seconds, domain.env)
    print(f"real-time mode, 10 robots: {100 * share:.0f}% of one core, {100 * dropped:.2f}% of simulated time dropped "
          f"to stay with the wall clock ({line})")
    ten = results[-1]
    print(f"sim_rtf: 10 robots at 500 Hz with all topics: real-time factor {ten['rtf']:.2f} wall "
          f"({ten['cpu_rtf']:.2f} per CPU-second of the sim process; physics-only baseline {ten['physics_rtf']:.2f}, "
          f"ratio {ten['rtf'] / ten['physics_rtf']:.2f}; goal >= 1.0)")


if __name__ == "__main__":
    main()
