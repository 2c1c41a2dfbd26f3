"""Replay seeds: ``python -m sigma_swarm.dst --seed 42 --trace`` (or ``--seeds 0 1000``)."""

from __future__ import annotations

import argparse
import sys

from sigma_swarm.dst.sim import Profile, run_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, help="one seed to replay")
    parser.add_argument("--seeds", type=int, nargs=2, metavar=("FIRST", "END"), help="a range of seeds")
    parser.add_argument("--n-min", type=int, default=3)
    parser.add_argument("--n-max", type=int, default=25)
    parser.add_argument("--trace", action="store_true", help="print every event of the run")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(*(args.seeds or (0, 100)))
    profile = Profile(n_min=args.n_min, n_max=args.n_max)
    failed = 0
    for seed in seeds:
        result = run_seed(seed, profile, trace=args.trace)
        if args.trace or not result.ok:
            print("\n".join(result.trace))
            print("\n".join(result.faults))
        status = "ok" if result.ok else f"FAILED: {result.violation}\n{result.replay_hint()}"
        print(f"seed {seed}: n={result.n} events={result.events} terms={result.terms} "
              f"leader {result.leader_after_calm_s:.3f} s after calm; {status}")
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
