"""Deterministic simulation sweep of the swarm election: >= 20,000 seeds, N = 3..25, every fault kind.

    python bench/swarm_dst.py                 # 20,000 seeds, 2 worker processes
    python bench/swarm_dst.py --seeds 50000 --workers 4
    python bench/swarm_dst.py --seeds 1000 --n-min 20 --n-max 20 --starve-gap 0.1 --bound 8   # CPU-starved host
    python bench/swarm_dst.py --seeds 2000 --ack-margin 1      # every follower acknowledges every round (< round 18)
    python bench/swarm_dst.py --failover --seeds 2000 --n-min 20 --n-max 20 --jitter 0.005   # round 23: successor
                                  # slots against plain randomized timeouts on the same failovers (ratio last line)

Each seed is a whole site (members, clocks, network, fault schedule) with the invariants checked after every step
(see docs/swarm.md). A failing seed is printed with the command that replays it. The last line is the headline.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import statistics
import sys
import time

from sigma_swarm.core import ElectionParams
from sigma_swarm.dst import Profile, SeedResult, run_seed

PROFILE = Profile(n_min=3, n_max=25)
PARAMS = ElectionParams()


def _one(seed: int) -> SeedResult:
    return run_seed(seed, PROFILE, PARAMS)  # replaced in the workers by _init when options change them


def _init(profile: Profile, params: ElectionParams) -> None:
    global PROFILE, PARAMS
    PROFILE, PARAMS = profile, params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20_000)
    parser.add_argument("--first", type=int, default=1_000_000, help="first seed (CI uses 0..999 and 100000..)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-min", type=int, default=3)
    parser.add_argument("--n-max", type=int, default=25)
    parser.add_argument("--starve-gap", type=float, default=0.0,
                        help="mean gap (s) in which each member gets no CPU, for the whole run (0 = off)")
    parser.add_argument("--bound", type=float, default=Profile().liveness_bound_s,
                        help="liveness bound (s) after faults stop")
    parser.add_argument("--ack-margin", type=float, default=ElectionParams().ack_margin,
                        help="election.ack_margin: followers asked to acknowledge each heartbeat beyond the majority "
                             "(>= 1: every follower, the protocol before round 18)")
    parser.add_argument("--failover", action="store_true",
                        help="the failover scenario instead of the fault profile: a calm site whose leader is killed "
                             "for good; the same seeds run with plain randomized timeouts and with successor slots")
    parser.add_argument("--jitter", type=float, default=Profile().max_jitter_s,
                        help="upper end of the per-seed mean network jitter (s)")
    args = parser.parse_args()
    profile = Profile(n_min=args.n_min, n_max=args.n_max, starve_gap_s=args.starve_gap, liveness_bound_s=args.bound,
                      max_jitter_s=args.jitter, failover=args.failover,
                      plain_timeouts_p=0.0 if args.failover else Profile().plain_timeouts_p)
    params = ElectionParams(ack_margin=args.ack_margin)
    if args.failover:
        return _failover(args, profile, params)
    started = time.perf_counter()
    results = _sweep(args, profile, params)
    elapsed = time.perf_counter() - started
    failures = _print_failures(results, 20)
    times = sorted(r.leader_after_calm_s for r in results if r.ok)
    sizes = [r.n for r in results]
    events = sum(r.events for r in results)
    commands = sum(r.commands for r in results)
    heartbeats = sum(r.heartbeats for r in results)
    subset = sum(r.subset_heartbeats for r in results)
    acks = sum(r.acks for r in results)

    print(f"members per site: min {min(sizes)} median {statistics.median(sizes):.0f} max {max(sizes)}; "
          f"{events:,} simulated events, {commands:,} fenced leader commands")
    print(f"acknowledgements: {acks / max(heartbeats, 1):.2f} sent per leader heartbeat ({heartbeats:,} heartbeats, "
          f"{subset / max(heartbeats, 1):.0%} of them asking a subset; ack_margin {args.ack_margin:g})")
    p50, p99, worst = (_percentile_ms(times, q) for q in (0.5, 0.99, 1.0))
    print(f"after faults stop, leader acknowledged by all: p50 {p50:.0f} ms p99 {p99:.0f} ms max {worst:.0f} ms "
          f"(bound {profile.liveness_bound_s:g} s)")
    print(f"command: python bench/swarm_dst.py --seeds {args.seeds} --first {args.first} --workers {args.workers} "
          f"--n-min {args.n_min} --n-max {args.n_max} --starve-gap {args.starve_gap:g} --bound {args.bound:g} "
          f"--ack-margin {args.ack_margin:g} --jitter {args.jitter:g}"
          f" ({elapsed:.0f} s wall)")
    starved = f", CPU-starved (mean gap {args.starve_gap * 1e3:.0f} ms)" if args.starve_gap else ""
    print(f"swarm_dst: {len(results) - len(failures)}/{len(results)} seeds passed every invariant and the liveness "
          f"bound ({len(failures)} failed), N={args.n_min}..{args.n_max}{starved}")
    return 1 if failures else 0


def _print_failures(results: list[SeedResult], limit: int) -> list[SeedResult]:
    """The failed seeds; the first ``limit`` printed with the command that replays each."""
    failures = [r for r in results if not r.ok]
    for r in failures[:limit]:
        print(f"FAILED seed {r.seed} (n={r.n}): {r.violation}\n  {r.replay_hint()}")
    return failures


def _percentile_ms(times: list[float], q: float) -> float:
    """The q-quantile (nearest rank below) of sorted ``times`` in ms; nan when empty."""
    return times[int(q * (len(times) - 1))] * 1e3 if times else float("nan")


def _sweep(args: argparse.Namespace, profile: Profile, params: ElectionParams) -> list[SeedResult]:
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool(args.workers, initializer=_init, initargs=(profile, params)) as pool:
        return list(pool.imap_unordered(_one, seeds, chunksize=50))


def _failover(args: argparse.Namespace, profile: Profile, params: ElectionParams) -> int:
    """Kill → a new leader acknowledged by every live member, plain timeouts against successor slots."""
    stagger = params.election_stagger_s
    figures = {}
    for label, run_params in (("plain randomized timeouts", dataclasses.replace(params, election_stagger_s=0.0)),
                              (f"successor slots ({stagger * 1e3:.0f} ms)", params)):
        results = _sweep(args, profile, run_params)
        failures = _print_failures(results, 10)
        times = sorted(r.leader_after_calm_s for r in results if r.ok)
        first = sum(r.elections == 1 for r in results if r.ok)
        p50, p90, p99, worst = (_percentile_ms(times, q) for q in (0.5, 0.9, 0.99, 1.0))
        figures[label] = (p99, first, len(failures))
        print(f"{label}: kill -> new leader acknowledged by all p50 {p50:.0f} ms p90 {p90:.0f} ms "
              f"p99 {p99:.0f} ms max {worst:.0f} ms; first election won {first}/{len(results)}; "
              f"{len(failures)} seeds failed")
    (plain, slots) = figures.values()
    print(f"command: python bench/swarm_dst.py --failover --seeds {args.seeds} --first {args.first} --n-min "
          f"{args.n_min} --n-max {args.n_max} --starve-gap {args.starve_gap:g} --jitter {args.jitter:g}")
    print(f"swarm_dst failover: p99 {slots[0]:.0f} ms with successor slots vs {plain[0]:.0f} ms plain "
          f"({slots[0] / plain[0]:.2f}x), first-election wins {slots[1]} vs {plain[1]} of {args.seeds}, "
          f"N={args.n_min}..{args.n_max}")
    return 1 if plain[2] or slots[2] else 0


if __name__ == "__main__":
    sys.exit(main())
