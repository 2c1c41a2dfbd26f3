"""CPU cost of the bridge's log uplink (docs/logs.md): one bridge with it against one without, side by side.

Run: source scripts/env.sh && python bench/bridge_logs_cpu.py [--seconds 60] [--log-rate 10]

In a private ROS domain: the cloud (`sigma-cloud serve`, embedded PostgreSQL), sim_node with robot r1 at its default
rates, and two bridge_nodes in /r1 with the default parameters (Foxglove on, any port), each uploading r1's telemetry
under its own robot identity: `r1` with the log uplink (subscribed to /rosout, shipping the `r1.*` loggers) and `r1b`
with `logs.enabled: false`. A real rclpy node `/r1/bench_talker` logs `--log-rate` records/s (INFO, every 7th a WARN,
every 10th an ERROR) through rcl, so its records reach /rosout like every node's. After a warm-up, each bridge's CPU
seconds (utime + stime from /proc) over `--seconds` of wall time give its share of one core; the cloud is asked how
many of the talker's records it stored (a sanity check that the uplink really worked during the run).
The last line: the bridge's share with the log uplink, without it, their ratio, the log rate and the load average.
Above 20 records/s the default per-node rate limit (`logs.node_rate`) holds the talker's INFO/WARN to 20/s (its
ERRORs, every 10th, have their own allowance), as it would a real node logging that much.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bridge_common import ROOT, Cloud, Session, cpu_seconds, wait_until

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.log_uplink import LogShipping

TALKER = ROOT / "src" / "sigma_bridge" / "test" / "log_talker.py"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--log-rate", type=float, default=10.0, help="records/s logged by the talker node")
    ap.add_argument("--warmup", type=float, default=15.0)
    args = ap.parse_args()
    with Session() as s:
        cloud = Cloud(s.launch, s.tmp / "cloud")
        try:
            cloud.start()
            bridges = {}
            for robot_id, name, logs in (("r1", "sigma_bridge", True), ("r1b", "sigma_bridge_nolog", False)):
                var = s.tmp / "var" / robot_id
                cloud.register(robot_id, public_key_b64(load_or_create_signing_key(var / "robot.key")))
                params = {"robot_id": robot_id, "cloud_url": cloud.url, "foxglove_port": 0,
                          "key_file": str(var / "robot.key"), "store_path": str(var / "uplink.db"),
                          "recordings_dir": str(var / "recordings"), "model_dir": str(var / "model"),
                          "logs.enabled": logs}
                bridges[robot_id] = s.launch("sigma_bridge", "bridge_node", namespace="/r1", name=name,
                                             params=params)
            for b in bridges.values():
                b.wait_for_output("sigma_bridge ready", timeout=60)
            s.launch("sigma_sim", "sim_node", params={"robots": ["r1"], "realtime": True})
            go = s.tmp / "go"
            go.touch()
            count = int(args.log_rate * (args.warmup + args.seconds + 60))
            s.launch.command([sys.executable, str(TALKER), "bench_talker", "/r1", str(count), str(args.log_rate),
                              str(go)], label="talker")
            time.sleep(args.warmup)  # discovery, first batches (start-up is not the steady state)
            c0 = {k: cpu_seconds(p.pid) for k, p in bridges.items()}
            n0 = stored(cloud)
            w0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - w0
            use = {k: (cpu_seconds(p.pid) - c0[k]) / wall for k, p in bridges.items()}
            load = os.getloadavg()[0]
            # the default per-node limit (logs.node_rate, ERRORs in their own bucket) caps what one node ships
            expected = min(args.log_rate, LogShipping.node_rate + args.log_rate / 10) * args.seconds
            shipped = wait_until(lambda: stored(cloud) - n0 >= 0.9 * expected and stored(cloud) - n0, 30,
                                 "the talker's records in the cloud")
            for p in [*bridges.values()]:
                if not p.alive:
                    print(f"{p.label} exited early:\n{p.output()[-2000:]}", file=sys.stderr)
                    return 1
        finally:
            cloud.close()
    print(f"wall {wall:.0f} s, load average {load:.1f}; talker records stored by the cloud during the run: "
          f"{shipped} ({shipped / wall:.1f}/s)")
    print(f"bridge without log uplink: {100 * use['r1b']:.1f} % of one core")
    print(f"bridge with log uplink at {args.log_rate:g} records/s: {100 * use['r1']:.1f} % of one core, "
          f"{use['r1'] / max(use['r1b'], 1e-9):.2f}x the bridge without it in the same run (load {load:.1f})")
    return 0


def stored(cloud: Cloud) -> int:
    return cloud.query("SELECT count(*) FROM robot_logs WHERE node = 'r1.bench_talker'")[0][0]


if __name__ == "__main__":
    raise SystemExit(main())
