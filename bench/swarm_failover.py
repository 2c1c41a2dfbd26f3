"""Leader failover of the swarm mesh with real processes over Cyclone DDS (localhost): 5, 10 and 20 members, one
process per member, the leader killed with SIGKILL again and again.

    python bench/swarm_failover.py                  # sizes 5 10 20, 50 kills each
    python bench/swarm_failover.py --sizes 5 --kills 10
    python bench/swarm_failover.py --sizes 5 10 20 --kills 0 --rest 30   # CPU at rest only
    python bench/swarm_failover.py --sizes 20 --kills 20 --baseline-rev b31d367 --floor 3   # b31d367: before round 4
    (default --baseline-rev 987ad54: the round-6 code; bae6628: the round-5 code, = a4c2eda for src/sigma_swarm;
    1ce28f6: the round-4 code)

Failover = from the kill to the moment the LAST live member acknowledged the new leader (each member stamps its own
status line with the wall clock when it first follows the new leader). After each kill the victim is restarted with
its durable state (crash-restart) and must rejoin before the next kill. The restart uses a standby process that
already loaded the code (``swarm_member --standby``; it reads key, durable state and roster and creates its DDS
participant only when told which robot it is), prepared while the previous victim rejoined and idle before each
kill: a restart costs a new process but not the interpreter's start-up, which was most of a kill cycle's wall time
(round 5). CPU at rest is measured in its own window before the kills, so ``--rest`` does not add per kill.
CPU per member at rest is measured from
/proc over a quiet window with a stable leader, before the kills, side by side (same window, same host load) with
a cluster of the same size running the previous code (``--baseline-rev``, extracted with ``git archive``; its own
default parameters) and with bare rclpy nodes that only spin one timer at the member's heartbeat period (the floor of
a ROS process at rest). The last line is the headline: worst failover p99, this code's CPU per member at rest,
the busiest leader's CPU (the goal is per member, the leader included), the ratio of the mean to the previous code
and to the floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sigma_swarm.cluster import LocalCluster
from sigma_swarm.core import ElectionParams, build_params
from sigma_testing.process import cpu_seconds


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def acknowledged_by_all(cluster: LocalCluster, old: str, old_term: int) -> tuple[str, int, float] | None:
    """(leader, term, time the last live member first reported it) once every live member follows a new leader."""
    agreed = cluster.agreed_leader()
    if agreed is None or agreed[0] == old or agreed[1] <= old_term:
        return None
    leader, term = agreed
    last = 0.0
    for proc in cluster.live():
        first = next((h["t"] for h in proc.history if h["leader"] == leader and h["term"] == term), None)
        if first is None:
            return None
        last = max(last, first)
    return leader, term, last


FLOOR_NODE = """
import sys, rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
rclpy.init()
node = Node("swarm_cpu_floor")
node.create_timer(float(sys.argv[1]), lambda: None)
print("READY", flush=True)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
"""


def start_floor(count: int, period_s: float, ros_domain: int) -> list[subprocess.Popen]:
    """Bare rclpy nodes with one timer at the member's wake-up period: the floor of a ROS process at rest."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               ROS_LOCALHOST_ONLY="")
    procs = [subprocess.Popen([sys.executable, "-c", FLOOR_NODE, str(period_s)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(count)]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError("the floor rclpy node did not start")
    return procs


def heartbeat_interval(params_file: Path | None) -> float:
    """The leader heartbeat period of this code's members (the floor nodes' timer period)."""
    if params_file is None:
        return ElectionParams().heartbeat_interval_s
    document = yaml.safe_load(params_file.read_text()) or {}
    return build_params(document.get("election", {})).heartbeat_interval_s


def baseline_tree(rev: str, into: Path) -> str:
    """``src/sigma_swarm`` of git revision ``rev`` extracted under ``into``; returns the path to import it from."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src/sigma_swarm"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into / "src" / "sigma_swarm")


def rest_cpu(clusters: dict[str, LocalCluster], floors: list[subprocess.Popen], rest_s: float) -> dict:
    """CPU per process [% of a core] of every cluster's members and of the floor nodes over one common window."""
    leaders = {name: c.wait_for(c.agreed_leader, 60, f"a stable leader ({name})", poll=0.1)[0]
               for name, c in clusters.items()}
    pids = {name: {p.robot_id: p.popen.pid for p in c.live()} for name, c in clusters.items()}
    pids["floor"] = {str(i): f.pid for i, f in enumerate(floors)}
    before = {name: {r: cpu_seconds(pid) for r, pid in group.items()} for name, group in pids.items()}
    t0 = time.monotonic()
    time.sleep(rest_s)  # the quiet window being measured: nothing to wait for, by definition
    span = time.monotonic() - t0
    cpu = {name: {r: (cpu_seconds(pid) - before[name][r]) / span * 100 for r, pid in group.items()}
           for name, group in pids.items()}
    for name, c in clusters.items():
        still = c.agreed_leader()
        if still is None or still[0] != leaders[name]:
            print(f"  {name}: the leader changed during the CPU window (host load?): figure not at rest", flush=True)
    return {name: {"mean": statistics.fmean(v.values()) if v else float("nan"),
                   "leader": v.get(leaders.get(name, ""), float("nan")), "max": max(v.values(), default=0.0)}
            for name, v in cpu.items()}


def run_size(n: int, kills: int, domain: int, workdir: Path, rest_s: float, baseline: str | None,
             floor: int, ros_domain: int, params_file: Path | None = None,
             baseline_params: Path | None = None) -> dict:
    cluster = LocalCluster(n, workdir / "this", domain, params_file=params_file)
    clusters = {"this": cluster}
    if baseline:
        clusters["previous"] = LocalCluster(n, workdir / "previous", domain + 1, python_path=baseline,
                                            params_file=baseline_params)
    floors: list[subprocess.Popen] = []
    try:
        for c in clusters.values():
            c.start_all()
        floors = start_floor(floor, heartbeat_interval(params_file), ros_domain) if floor else []
        for name, c in list(clusters.items()):
            try:
                c.wait_for(c.agreed_leader, 120, f"first leader of {n} ({name})", poll=0.1)
                c.wait_for(lambda c=c: all(len(p.status.get("members", [])) == n for p in c.live()), 60,
                           f"full membership ({name})", poll=0.1)
            except TimeoutError:
                if c is cluster:
                    raise
                print(f"  n={n}: the {name} code elected no leader within 120 s next to this code (load average "
                      f"{os.getloadavg()[0]:.0f}): no side-by-side CPU figure", flush=True)
                c.stop()
                del clusters[name]
        cpu = rest_cpu(clusters, floors, rest_s)
        for c in clusters.values():
            if c is not cluster:
                c.stop()
        for f in floors:
            f.terminate()
            f.wait(timeout=10)
        floors = []
        failovers: list[float] = []
        terms: list[int] = []
        loads: list[float] = []
        phases = {"stable": 0.0, "failover": 0.0, "restart": 0.0}  # wall time spent in each phase of the cycle
        started = time.monotonic()
        if kills:
            cluster.prepare_standby()
        for _ in range(kills):
            loads.append(os.getloadavg()[0])
            t0 = time.monotonic()
            standby = cluster.prepare_standby()  # loaded while the previous victim restarted; idle before the kill
            cluster.wait_for(lambda standby=standby: any(x.startswith("STANDBY") for x in standby.log), 60,
                             "a standby member process", poll=0.01)
            leader, term = cluster.wait_for(cluster.agreed_leader, 60, "a stable leader", poll=0.01)
            t1 = time.monotonic()
            killed_at = cluster.kill(leader, signal.SIGKILL)
            _, new_term, acked = cluster.wait_for(
                lambda leader=leader, term=term: acknowledged_by_all(cluster, leader, term),
                30, "new leader acknowledged by all", poll=0.01)
            failovers.append(acked - killed_at)
            terms.append(new_term - term)  # 1 = the first election won; more = failed/split elections first
            t2 = time.monotonic()
            cluster.start(leader)  # crash-restart with its durable term/vote (a new process: the standby)
            cluster.prepare_standby()  # the next cycle's, loading its code while this one rejoins
            cluster.wait_for(lambda leader=leader: cluster.members[leader].status.get("leader")
                             and cluster.agreed_leader() is not None, 60, f"{leader} rejoined", poll=0.01)
            phases["stable"] += t1 - t0
            phases["failover"] += t2 - t1
            phases["restart"] += time.monotonic() - t2
        return {"n": n, "failovers": failovers, "terms": terms, "cpu": cpu, "load": os.getloadavg()[0],
                "kill_loads": loads, "phases": phases, "kill_wall": time.monotonic() - started}
    finally:
        for f in floors:
            f.kill()
        for c in clusters.values():
            c.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--rest", type=float, default=10.0, help="seconds of the at-rest CPU window")
    parser.add_argument("--domain", type=int, default=97, help="Cyclone DDS domain id to use (localhost only)")
    parser.add_argument("--baseline-rev", default="987ad54",
                        help="git revision whose members run side by side in the CPU window ('' = none)")
    parser.add_argument("--floor", type=int, default=3, help="bare rclpy timer nodes measured alongside (0 = none)")
    parser.add_argument("--ros-domain", type=int, default=96, help="ROS domain of the floor nodes")
    parser.add_argument("--params", type=Path, default=None,
                        help="YAML with an 'election:' section for this code's members (e.g. a longer heartbeat "
                             "period with scaled timeouts); the previous code keeps its own defaults")
    parser.add_argument("--baseline-params", type=Path, default=None,
                        help="YAML 'election:' section for the previous code's members (its own names only; e.g. "
                             "this very revision with bench/swarm_params_all_acks.yaml: one change isolated)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="swarm-failover-") as tmp:
        baseline = baseline_tree(args.baseline_rev, Path(tmp)) if args.baseline_rev else None
        for n in args.sizes:
            r = run_size(n, args.kills, args.domain, Path(tmp) / f"n{n}", args.rest, baseline, args.floor,
                         args.ros_domain, args.params, args.baseline_params)
            results.append(r)
            f = [x * 1e3 for x in r["failovers"]] or [float("nan")]
            cpu = r["cpu"]
            line = (f"n={n:2d}: CPU per member at rest ({args.rest:.0f} s): mean {cpu['this']['mean']:.2f} % "
                    f"max {cpu['this']['max']:.2f} % leader {cpu['this']['leader']:.2f} % of a core")
            if "previous" in cpu:
                line += (f"; previous code ({args.baseline_rev}) side by side: mean {cpu['previous']['mean']:.2f} % "
                         f"leader {cpu['previous']['leader']:.2f} % -> ratio "
                         f"{cpu['this']['mean'] / cpu['previous']['mean']:.2f}x")
            if args.floor:
                line += (f"; bare rclpy node, {heartbeat_interval(args.params) * 1e3:.0f} ms timer: "
                         f"{cpu['floor']['mean']:.2f} % -> {cpu['this']['mean'] / cpu['floor']['mean']:.2f}x the floor")
            print(line + f"; load average {r['load']:.1f}", flush=True)
            if r["failovers"]:
                worst = sorted(zip(r["failovers"], r["terms"], strict=True), reverse=True)[:3]
                print(f"  {len(r['failovers'])} kills, kill -> new leader acknowledged by all: p50 "
                      f"{pct(f, 0.5):.0f} ms p99 {pct(f, 0.99):.0f} ms max {max(f):.0f} ms; slowest (s, elections it "
                      "took): " + ", ".join(f"{d:.2f} s/{k}" for d, k in worst)
                      + f"; won by the first election: {sum(k == 1 for k in r['terms'])}/{len(r['terms'])}"
                      + f"; load average during the kills {min(r['kill_loads']):.0f}-{max(r['kill_loads']):.0f}",
                      flush=True)
                ph = r["phases"]
                print(f"  kill cycles took {r['kill_wall']:.0f} s: waiting for the standby process and a stable leader "
                      f"{ph['stable']:.0f} s, "
                      f"kill to all following {ph['failover']:.0f} s, restart of the victim until it follows "
                      f"{ph['restart']:.0f} s", flush=True)
    load = os.getloadavg()[0]
    print(f"host: {os.cpu_count()} cores, load average {load:.1f} at the end (shared machine)")
    print(f"command: python bench/swarm_failover.py --sizes {' '.join(map(str, args.sizes))} --kills {args.kills} "
          f"--rest {args.rest:g} --baseline-rev '{args.baseline_rev}' --floor {args.floor}"
          + (f" --params {args.params}" if args.params else "")
          + (f" --baseline-params {args.baseline_params}" if args.baseline_params else ""))
    worst = max((pct([x * 1e3 for x in r["failovers"]], 0.99) for r in results if r["failovers"]),
                default=float("nan"))
    mean = statistics.fmean(r["cpu"]["this"]["mean"] for r in results)
    ratios = [r["cpu"]["this"]["mean"] / r["cpu"]["previous"]["mean"] for r in results if "previous" in r["cpu"]]
    ratio = f", {statistics.fmean(ratios):.2f}x the previous code" if ratios else ""
    floor = (f", {statistics.fmean(r['cpu']['this']['mean'] / r['cpu']['floor']['mean'] for r in results):.2f}x "
             "a bare rclpy timer node" if args.floor else "")
    leader = max(r["cpu"]["this"]["leader"] for r in results)
    print(f"swarm_failover: worst p99 {worst:.0f} ms (goal <= 500 ms) over sizes {args.sizes}, "
          f"CPU per member at rest mean {mean:.2f} % of a core (goal <= 2 %), the busiest leader {leader:.2f} %"
          f"{ratio}{floor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
