"""How often a simulated walker boxed in between robots that stand still for it never gets clear of them.

A walker starts near the middle of two (or three) robots that do not move (their safety supervisors stop them
within ~1.7 m of a person) and walks towards a random goal; it is clear once more than 2 m from every robot. The
figure is the share of seeded placements still boxed in after 60 s of simulated time (0 is the goal; before the
escape rule of ``sigma_sim.humans.Human._escape_point`` it was 33 % with two robots).

    python bench/walkers_between_robots.py --placements 2000
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from sigma_sim.humans import Human

DT = 0.01


def boxed_in(rng: np.random.Generator, n_robots: int, seconds: float) -> bool:
    """One placement; True when the walker is still within 2 m of some robot after ``seconds``."""
    a = rng.uniform(-2.0, 2.0, 2)
    robots = [a]
    for _ in range(n_robots - 1):
        angle, gap = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(2.4, 3.6)
        robots.append(a + gap * np.array([math.cos(angle), math.sin(angle)]))
    pos = np.array(robots)
    headings = rng.uniform(-math.pi, math.pi, n_robots)
    h = Human("w", pos.mean(axis=0) + rng.normal(0.0, 0.3, 2), 1.2, mode="random")
    h.goal = rng.uniform(-10.0, 10.0, 2)
    for _ in range(int(seconds / DT)):
        h.step(DT, rng, pos, headings)
        if np.hypot(*(pos - h.position).T).min() > 2.0:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--placements", type=int, default=1000, help="placements per robot count")
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated time per placement")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    shares = []
    for n in (2, 3):
        stuck = sum(boxed_in(rng, n, args.seconds) for _ in range(args.placements))
        shares.append(stuck / args.placements)
        print(f"{n} robots: {stuck} of {args.placements} walkers still boxed in after {args.seconds:.0f} s")
    print(f"walkers boxed in between stopped robots: {max(shares):.1%} (worst of 2 and 3 robots)")


if __name__ == "__main__":
    main()
