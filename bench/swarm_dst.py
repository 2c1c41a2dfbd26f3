"""Deterministic simulation sweep of the swarm election: >= 20,000 seeds, N = 3..25, every fault kind.

    python bench/swarm_dst.py                 # 20,000 seeds, 2 worker processes
    python bench/swarm_dst.py --seeds 50000 --workers 4

Each seed is a whole site (members, clocks, network, fault schedule) with the invariants checked after every step
(see docs/swarm.md). A failing seed is printed with the command that replays it. The last line is the headline.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time

from sigma_swarm.dst import Profile, run_seed

PROFILE = Profile(n_min=3, n_max=25)


def _one(seed: int) -> tuple[int, int, bool, str, float, int, int, str]:
    r = run_seed(seed, PROFILE)
    return r.seed, r.n, r.ok, r.violation, r.leader_after_calm_s, r.events, r.commands, r.replay_hint()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20_000)
    parser.add_argument("--first", type=int, default=1_000_000, help="first seed (CI uses 0..999 and 100000..)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool(args.workers) as pool:
        results = list(pool.imap_unordered(_one, seeds, chunksize=50))
    elapsed = time.perf_counter() - started
    failures = [r for r in results if not r[2]]
    for seed, n, _, violation, _, _, _, hint in failures[:20]:
        print(f"FAILED seed {seed} (n={n}): {violation}\n  {hint}")
    times = sorted(r[4] for r in results if r[2])
    sizes = [r[1] for r in results]
    events = sum(r[5] for r in results)
    commands = sum(r[6] for r in results)

    def pct(q: float) -> float:
        return times[int(q * (len(times) - 1))] * 1e3 if times else float("nan")

    print(f"members per site: min {min(sizes)} median {statistics.median(sizes):.0f} max {max(sizes)}; "
          f"{events:,} simulated events, {commands:,} fenced leader commands")
    print(f"after faults stop, leader acknowledged by all: p50 {pct(0.5):.0f} ms p99 {pct(0.99):.0f} ms "
          f"max {pct(1.0):.0f} ms (bound {PROFILE.liveness_bound_s:.0f} s)")
    print(f"command: python bench/swarm_dst.py --seeds {args.seeds} --first {args.first} --workers {args.workers}"
          f" ({elapsed:.0f} s wall)")
    print(f"swarm_dst: {len(results) - len(failures)}/{len(results)} seeds passed every invariant "
          f"({len(failures)} failed), N=3..25")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
