"""Batch assignment: each task to at most one robot, each robot at most one task per round, minimum total cost.

Objective: sum of cost(assigned pairs) + sum of unassigned_cost(task) over tasks left for the next round (that
cost grows with priority, so high-priority tasks win robots when there are too few). Infeasible pairs cost +inf.

Two solvers, chosen by size (`choose`):
- dense exact: `scipy.optimize.linear_sum_assignment` (Jonker-Volgenant) on the savings matrix
  min(cost - unassigned_cost, 0), which is exact for the objective above; up to `DENSE_LIMIT` pairs (2,000 x 2,000);
- cells, beyond that (a site with thousands of robots): the site is cut recursively at the median along its longer
  side into cells of at most `CELL_PAIRS` (task, robot) pairs with the fleet's robot/task ratio kept in every cell,
  each cell is solved densely and exactly, then `REFINE_PASSES` passes re-solve the tasks of shifted grid cells
  together with the robots they hold and the free robots inside (each pass can only lower the total, because the
  current assignment stays feasible in every re-solved cell). Not exact: bench/allocation_scale.py measures the gap
  against the exact dense optimum.

Checked and not used: `lapx` (its lapjv took 4-7x scipy's time on the same 1,000 and 2,000 instances here), and
scipy's sparse LAPJVsp on k-nearest-neighbour candidate graphs (uniform instances leave tasks whose nearest robots
are all taken, and its run time varied from 2 to 60 s between neighbouring sizes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

DENSE_LIMIT = 4_000_000  # tasks x robots solved densely and exactly
CELL_PAIRS = 250_000  # tasks x robots per cell in the cells solver (about 500 x 500)
REFINE_PASSES = 3

PairCost = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (task idx, robot idx) arrays -> cost array


def objective(assign: np.ndarray, cost: np.ndarray, unassigned: np.ndarray) -> float:
    """Total cost of an assignment (assign[j] = robot index or -1) under a dense cost matrix."""
    rows = np.flatnonzero(assign >= 0)
    return float(cost[rows, assign[rows]].sum() + unassigned[assign < 0].sum())


def solve_dense(cost: np.ndarray, unassigned: np.ndarray) -> np.ndarray:
    """Optimal assignment for a dense (tasks x robots) cost matrix with +inf for infeasible pairs."""
    n, m = cost.shape
    assign = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return assign
    savings = np.minimum(cost - unassigned[:, None], 0.0)  # inf - U stays inf, clipped to 0: never worth it
    rows, cols = linear_sum_assignment(savings)
    take = savings[rows, cols] < 0.0
    assign[rows[take]] = cols[take]
    return assign


def _solve_block(tidx: np.ndarray, ridx: np.ndarray, pair_cost: PairCost, unassigned: np.ndarray) -> np.ndarray:
    """Dense exact solution of one block; returns the global robot index per task of the block (-1 = none)."""
    if len(tidx) == 0 or len(ridx) == 0:
        return np.full(len(tidx), -1, dtype=np.int64)
    jj, ii = np.repeat(tidx, len(ridx)), np.tile(ridx, len(tidx))
    local = solve_dense(pair_cost(jj, ii).reshape(len(tidx), len(ridx)), unassigned[tidx])
    return np.where(local >= 0, ridx[np.maximum(local, 0)], -1)


def partition(
    task_pts: np.ndarray, robot_pts: np.ndarray, limit: int = CELL_PAIRS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut tasks and robots into cells of at most `limit` pairs: median cuts along the longer side, robots split in
    the same proportion as tasks so every cell keeps the fleet's robot/task ratio."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    stack = [(np.arange(len(task_pts)), np.arange(len(robot_pts)))]
    while stack:
        tidx, ridx = stack.pop()
        if len(tidx) * len(ridx) <= limit or len(tidx) < 2 or len(ridx) < 2:
            out.append((tidx, ridx))
            continue
        pts = np.concatenate([task_pts[tidx], robot_pts[ridx]])
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        ts = tidx[np.argsort(task_pts[tidx, axis], kind="stable")]
        rs = ridx[np.argsort(robot_pts[ridx, axis], kind="stable")]
        a = len(ts) // 2
        b = round(len(rs) * a / len(ts))
        stack += [(ts[a:], rs[b:]), (ts[:a], rs[:b])]
    return out


def solve_cells(
    task_pts: np.ndarray,
    robot_pts: np.ndarray,
    pair_cost: PairCost,
    unassigned: np.ndarray,
    *,
    limit: int = CELL_PAIRS,
    passes: int = REFINE_PASSES,
) -> np.ndarray:
    """Near-optimal assignment for large batches: exact per cell, then shifted-cell refinement passes."""
    n, m = len(task_pts), len(robot_pts)
    assign = np.full(n, -1, dtype=np.int64)
    cells = partition(task_pts, robot_pts, limit)
    for tidx, ridx in cells:
        assign[tidx] = _solve_block(tidx, ridx, pair_cost, unassigned)
    if n == 0 or m == 0:
        return assign
    lo = np.minimum(task_pts.min(axis=0), robot_pts.min(axis=0))
    span = np.maximum(np.maximum(task_pts.max(axis=0), robot_pts.max(axis=0)) - lo, 1e-9)
    per_side = max(1, round(math.sqrt(len(cells))))
    size = span / per_side
    for p in range(passes):
        offset = size * ((p + 1) / (passes + 1))  # a different shift each pass
        cell_of_task = _grid_ids(task_pts, lo - offset, size, per_side)
        cell_of_robot = _grid_ids(robot_pts, lo - offset, size, per_side)
        taken = np.zeros(m, dtype=bool)
        taken[assign[assign >= 0]] = True
        free_by_cell = _group(np.flatnonzero(~taken), cell_of_robot)
        for cell, tidx in _group(np.arange(n), cell_of_task).items():
            held = assign[tidx][assign[tidx] >= 0]
            ridx = np.concatenate([held, free_by_cell.get(cell, np.zeros(0, dtype=np.int64))])
            if len(tidx) * len(ridx) <= 4 * limit:
                assign[tidx] = _solve_block(tidx, ridx, pair_cost, unassigned)
    return assign


def _grid_ids(pts: np.ndarray, origin: np.ndarray, size: np.ndarray, per_side: int) -> np.ndarray:
    key = np.floor((pts - origin) / size).astype(np.int64)
    return key[:, 0] * (per_side + 2) + key[:, 1]


def _group(items: np.ndarray, ids: np.ndarray) -> dict[int, np.ndarray]:
    if len(items) == 0:
        return {}
    keys = ids[items]
    order = np.argsort(keys, kind="stable")
    split = np.flatnonzero(np.diff(keys[order])) + 1
    return {int(keys[order][g[0]]): items[order][g] for g in np.split(np.arange(len(items)), split)}


def choose(n: int, m: int, dense_limit: int = DENSE_LIMIT) -> str:
    """Which solver a batch of n tasks x m robots gets: 'dense' (exact) or 'cells'."""
    return "dense" if n * m <= dense_limit else "cells"
