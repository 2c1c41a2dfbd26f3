"""Seeded robot encounters on the warehouse site map (sigma_core traffic), pure and closed loop: two and three
robots placed 1.6-2.6 m apart in a chain at random free places and headings, each sent to a different place after a
random delay (one of three may stay idle, where it stands); each encounter is judged for tasks not done, a robot
with work standing still >= 60 s (a standoff) and robots closer than the separation less 0.1 m. The kinematic
stand-in of sigma_core's tests drives the bases (no MuJoCo): this checks the traffic rules, not the walking.

    python bench/traffic_encounters.py --two 300 --three 150 [--delay TICKS]

``--delay``: ticks (50 ms) a route takes to reach the others on top of the 0.2 s between routes (default 4: the mesh
relay's period); the separation is kept from where a moving peer may be by now (``traffic.peer_latency``).

Last line: encounters without a problem / encounters run, the longest wait of a robot with work, the closest pair.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "sigma_core" / "test"))

from fleet_sim import ROUTE_DELAY, WAIT_BOUND, encounter, judge
from kinematic import warehouse

from sigma_core.core.traffic import TrafficParams


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--two", type=int, default=300, help="two-robot encounters (seeds 0..N-1)")
    ap.add_argument("--three", type=int, default=150, help="three-robot encounters (seeds 0..N-1)")
    ap.add_argument("--delay", type=int, default=ROUTE_DELAY, help="ticks (50 ms) a route takes to arrive")
    args = ap.parse_args()
    site, sep = warehouse(), TrafficParams().separation
    runs = bad = 0
    longest, closest = 0.0, math.inf
    t0 = time.process_time()
    for robots, n in ((2, args.two), (3, args.three)):
        for seed in range(n):
            f = encounter(site, seed, robots, args.delay)
            wrong = judge(f, sep)
            runs += 1
            bad += bool(wrong)
            longest = max([longest] + [w for r, w in f.longest_wait.items() if r != f.idle])
            closest = min(closest, f.closest)
            if wrong:
                print(f"{robots} robots, seed {seed}: {'; '.join(wrong)}", flush=True)
    cpu = time.process_time() - t0
    print(f"{runs} encounters in {cpu:.0f} s CPU; bound {WAIT_BOUND:.0f} s standing still, separation {sep} m, "
          f"routes {args.delay * 0.05:.2f} s late")
    print(f"encounters resolved {runs - bad}/{runs}; longest wait of a robot with work {longest:.1f} s; "
          f"closest pair {closest:.2f} m (separation {sep} m)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
