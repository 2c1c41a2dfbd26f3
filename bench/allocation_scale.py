"""Task allocation at scale: one allocation round of N robots x N tasks through sigma_tasks' TaskBoard.

Run: source scripts/env.sh && python bench/allocation_scale.py [--sizes 100 1000 10000] [--exact-limit 4000] [--seed 1]

Instances: a site whose area grows with N (one robot and one delivery per ~100 m^2, uniform positions), every
robot idle with a full battery, every task a tote delivery pickup -> dropoff. The timed call is
`TaskBoard.allocate` (costing every candidate pair with the energy model, solving, recording every transition).
Solvers (sigma_tasks.solver.choose): dense exact (scipy linear_sum_assignment) up to 500 x 500; up to 3,000 x 3,000
one sparse solve on the candidate graph (each task's 64 nearest robots, widened where too few are feasible; scipy's
LAPJVsp with a dummy robot per task); beyond, the cells solver (median cuts into ~1,000 x 1,000 cells, each solved on
its candidate graph, then 3 shifted-cell refinement passes).
Optimality gap: the board's total cost against the exact dense optimum of the full cost matrix, for every N up to
--exact-limit (the full 10,000 x 10,000 matrix is 800 MB and minutes of CPU: pass --exact-limit 10000 to include
it). For sizes above the limit, the cells solver's gap is measured at the limit (forced there, same density).
Baseline in the same run: the exact dense solver's own time at that size.
Goals: 1,000 x 1,000 <= 1 s; 10,000 x 10,000 <= 10 s with gap <= 2 %. The last line is the headline.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from sigma_tasks import solver
from sigma_tasks.allocator import BoardParams, TaskBoard
from sigma_tasks.cost import CostParams, RobotArrays, RobotState, TaskArrays, bid, euclidean_pairs
from sigma_tasks.model import Place, PlaceKind, SiteMap, TaskKind, TaskSpec


def instance(n: int, seed: int) -> tuple[SiteMap, list[TaskSpec], list[RobotState]]:
    rng = np.random.default_rng(seed)
    side = math.sqrt(100.0 * n)
    pick, drop, pos = (rng.random((n, 2)) * side for _ in range(3))
    # pickups and dropoffs within ~15 m of each other (a delivery inside the warehouse's zone)
    drop = np.clip(pick + (drop / side - 0.5) * 30.0, 0.0, side)
    places = [Place(f"p{k}", PlaceKind.SHELF, *pick[k]) for k in range(n)]
    places += [Place(f"d{k}", PlaceKind.ZONE, *drop[k]) for k in range(n)]
    places += [Place(f"dock{k}", PlaceKind.DOCK, *xy) for k, xy in enumerate(rng.random((max(1, n // 50), 2)) * side)]
    tasks = [TaskSpec(f"t{k}", TaskKind.DELIVER, pickup=f"p{k}", dropoff=f"d{k}", payload_kg=float(rng.uniform(1, 15)),
                      priority=int(rng.integers(0, 3))) for k in range(n)]
    robots = [RobotState(f"r{k}", (float(pos[k, 0]), float(pos[k, 1]))) for k in range(n)]
    return SiteMap.from_places(places), tasks, robots


def exact_optimum(board: TaskBoard, robots: list[RobotState], now: float) -> float:
    """The exact optimum of the full n x m problem the board's first round faced (dense, every pair)."""
    recs = [r for r in board.records.values() if not r.spec.task_id.startswith("charge-")]
    tasks: TaskArrays = board._task_arrays(recs)
    arr = RobotArrays.build(robots, [d.point for d in board.site.docks()], board.dist)
    n, m = len(recs), len(robots)
    cost = np.empty((n, m))
    for s in range(0, n, 500):  # in row blocks to bound memory of the temporaries
        rows = np.arange(s, min(n, s + 500))
        j, i = np.repeat(rows, m), np.tile(np.arange(m), len(rows))
        cost[rows] = bid(tasks, arr, j, i, now=now, dist=euclidean_pairs, params=board.params).cost.reshape(-1, m)
    unassigned = board.params.unassigned_cost(tasks.priority)
    return solver.objective(solver.solve_dense(cost, unassigned), cost, unassigned)


def board_objective(board: TaskBoard, result, robots: list[RobotState]) -> float:
    assigned = {a.task_id: a.cost_s for a in result.assignments}
    unassigned = sum(float(board.params.unassigned_cost(np.array([r.spec.priority]))[0])
                     for r in board.records.values() if r.spec.task_id not in assigned)
    return sum(assigned.values()) + unassigned


def run(n: int, seed: int, exact_limit: int, force: str | None = None) -> dict:
    site, specs, robots = instance(n, seed)
    forced = force == "cells"
    board = TaskBoard(site, leader="bench", term=1, params=CostParams(),
                      board=BoardParams(max_rounds=1, dense_limit=0 if forced else solver.DENSE_LIMIT,
                                        sparse_limit=0 if forced else solver.SPARSE_LIMIT))
    for s in specs:
        board.add(s, at=0.0, actor="bench")
    t0 = time.perf_counter()
    result = board.allocate(robots, now=0.0, term=1)
    seconds = time.perf_counter() - t0
    total = board_objective(board, result, robots)
    out = {"n": n, "seconds": seconds, "solver": result.solver, "assigned": len(result.assignments), "total": total}
    if n <= exact_limit:
        t0 = time.perf_counter()
        best = exact_optimum(board, robots, 0.0)
        out["exact_seconds"] = time.perf_counter() - t0
        out["gap"] = max(total / best - 1.0, 0.0)  # float noise can make an exact solution look 1e-16 better
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--exact-limit", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        r = run(n, args.seed, args.exact_limit)
        rows.append(r)
        gap = f"gap {100 * r['gap']:.3f} % (exact {r['exact_seconds']:.1f} s)" if "gap" in r else "no exact run"
        print(f"{n:>6} x {n:<6} {r['solver']:<6} {r['seconds']:7.3f} s  assigned {r['assigned']}/{n}  {gap}  "
              f"(load average {os.getloadavg()[0]:.1f})")
    probe = min(max(args.sizes), args.exact_limit)
    measured = [r for r in rows if r["solver"] == "cells" and "gap" in r]
    if measured:  # the cells solver's gap is already known against the exact optimum
        base = measured[-1]
    else:
        base = run(probe, args.seed + 1, args.exact_limit, force="cells")
        print(f"cells solver forced at {probe} x {probe}: {base['seconds']:.3f} s, gap {100 * base['gap']:.3f} % vs "
              f"the exact optimum (exact dense solve alone {base['exact_seconds']:.1f} s)")
    by_n = {r["n"]: r for r in rows}
    head = [f"{n}x{n} {by_n[n]['seconds']:.2f} s" for n in args.sizes]
    big = by_n[max(args.sizes)]
    gap_big = big.get("gap", base["gap"])
    gap_note = "" if "gap" in big else f" (cells solver's gap measured at {probe}x{probe})"
    print(f"allocation_scale: {', '.join(head)}; gap {100 * gap_big:.2f} %{gap_note} "
          f"(goals 1000x1000 <= 1 s, 10000x10000 <= 10 s, gap <= 2 %); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
