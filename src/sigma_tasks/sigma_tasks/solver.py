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
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

DENSE_LIMIT = 250_000  # tasks x robots solved densely and exactly (every pair costed)
SPARSE_LIMIT = 9_000_000  # up to this many pairs: one candidate-graph solve over the whole batch; beyond: cells
CELL_PAIRS = 1_000_000  # tasks x robots per cell in the cells solver (about 1,000 x 1,000)
REFINE_PASSES = 3
CANDIDATES = 64  # nearest robots (straight line to the task's start) costed per task
WIDEN_ROUNDS = 2  # tasks left without a robot are offered the nearest free robots again, 4x as many each round

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


def solve_sparse(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, unassigned: np.ndarray, n_cols: int
                 ) -> np.ndarray:
    """Optimal assignment on a candidate graph: task ``rows[k]`` may take robot ``cols[k]`` at ``cost[k]`` (each
    pair at most once); ``unassigned[j]`` is task j's cost of staying queued. Returns the robot per task (-1 = none).

    Exact for the objective on the given edges: every task also gets a dummy robot of its own at its unassigned
    cost, so a full matching always exists, and scipy's sparse LAPJVsp (``min_weight_full_bipartite_matching``)
    minimises sum(cost - unassigned) over the real edges taken (shifted to positive weights)."""
    n = len(unassigned)
    assign = np.full(n, -1, dtype=np.int64)
    keep = np.isfinite(cost) & (cost < unassigned[rows])  # an edge dearer than waiting is never taken
    if n == 0 or not keep.any():
        return assign
    rows, cols, saving = rows[keep], cols[keep], cost[keep] - unassigned[rows[keep]]
    big = 2.0 * float(np.max(unassigned)) + 1.0
    graph = csr_matrix((np.concatenate([saving + big, np.full(n, big)]),
                        (np.concatenate([rows, np.arange(n)]), np.concatenate([cols, n_cols + np.arange(n)]))),
                       shape=(n, n_cols + n))
    r, c = min_weight_full_bipartite_matching(graph)
    real = c < n_cols
    assign[r[real]] = c[real]
    return assign


def _solve_block(tidx: np.ndarray, ridx: np.ndarray, pair_cost: PairCost, unassigned: np.ndarray,
                 task_pts: np.ndarray | None = None, robot_pts: np.ndarray | None = None) -> np.ndarray:
    """One block: dense and exact up to ``DENSE_LIMIT`` pairs (or without points), else on the candidate graph of
    each task's ``CANDIDATES`` nearest robots. Returns the global robot index per task of the block (-1 = none)."""
    if len(tidx) == 0 or len(ridx) == 0:
        return np.full(len(tidx), -1, dtype=np.int64)
    if len(tidx) * len(ridx) > DENSE_LIMIT and task_pts is not None and robot_pts is not None:
        return solve_candidates(task_pts, robot_pts, pair_cost, unassigned, tidx, ridx)
    jj, ii = np.repeat(tidx, len(ridx)), np.tile(ridx, len(tidx))
    local = solve_dense(pair_cost(jj, ii).reshape(len(tidx), len(ridx)), unassigned[tidx])
    return np.where(local >= 0, ridx[np.maximum(local, 0)], -1)


def solve_candidates(task_pts: np.ndarray, robot_pts: np.ndarray, pair_cost: PairCost, unassigned: np.ndarray,
                     tidx: np.ndarray | None = None, ridx: np.ndarray | None = None, *, k: int = CANDIDATES,
                     widen: int = WIDEN_ROUNDS) -> np.ndarray:
    """Sparse candidates: each task is costed against its ``k`` nearest robots (straight line to its start, a lower
    bound of the empty leg; k-d tree), and the candidate graph is solved exactly (``solve_sparse``). A task with
    fewer than ``k / 2`` feasible candidates (e.g. too heavy for the robots around it) gets 4x as many neighbours,
    until it has them or every robot is a candidate, before the solve — so the exact matching can trade a strong
    robot away from a light task. Tasks then left without a robot (every candidate went to another task) are
    offered the nearest still-free robots, up to ``widen`` more rounds; a small remainder is solved densely.
    Returns the global robot index per task of ``tidx`` (-1 = none)."""
    tidx = np.arange(len(task_pts)) if tidx is None else tidx
    ridx = np.arange(len(robot_pts)) if ridx is None else ridx
    out = np.full(len(tidx), -1, dtype=np.int64)
    free = np.ones(len(ridx), dtype=bool)
    todo = np.arange(len(tidx))
    for _ in range(widen + 1):
        fr = np.flatnonzero(free)
        if len(todo) == 0 or len(fr) == 0:
            break
        if len(todo) * len(fr) <= DENSE_LIMIT:
            out[todo] = _solve_block(tidx[todo], ridx[fr], pair_cost, unassigned)
            break
        rows, cols, cost = _candidate_graph(task_pts[tidx[todo]], robot_pts[ridx[fr]],
                                            _subset_cost(pair_cost, tidx[todo], ridx[fr]), k)
        local = solve_sparse(rows, cols, cost, unassigned[tidx[todo]], len(fr))
        got = local >= 0
        out[todo[got]] = ridx[fr[local[got]]]
        free[fr[local[got]]] = False
        todo = todo[~got]
    return out


def _subset_cost(pair_cost: PairCost, tasks: np.ndarray, robots: np.ndarray) -> PairCost:
    """``pair_cost`` on positions within the given task and robot index arrays."""

    def cost(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return pair_cost(tasks[rows], robots[cols])

    return cost


def _candidate_graph(task_pts: np.ndarray, robot_pts: np.ndarray, pair_cost: PairCost, k: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task, robot, cost) edges: each task's k nearest robots, widened 4x at a time for tasks with fewer than
    k / 2 feasible ones (until every robot is a candidate)."""
    n, m = len(task_pts), len(robot_pts)
    tree = cKDTree(robot_pts)
    want = max(1, k // 2)
    feasible = np.zeros(n, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    need, have, q = np.arange(n), 0, min(k, m)
    while len(need):
        _, near = tree.query(task_pts[need], k=q)
        near = np.asarray(near).reshape(len(need), q)[:, have:]
        rows, cols = np.repeat(need, q - have), near.reshape(-1)
        cost = pair_cost(rows, cols)
        parts.append((rows, cols, cost))
        feasible += np.bincount(rows[np.isfinite(cost)], minlength=n)
        if q == m:
            break
        need = need[feasible[need] < want]
        have, q = q, min(4 * q, m)
    rows_all, cols_all, cost_all = (np.concatenate(x) for x in zip(*parts, strict=True))
    return rows_all, cols_all, cost_all


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
        assign[tidx] = _solve_block(tidx, ridx, pair_cost, unassigned, task_pts, robot_pts)
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
                assign[tidx] = _solve_block(tidx, ridx, pair_cost, unassigned, task_pts, robot_pts)
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


def choose(n: int, m: int, dense_limit: int = DENSE_LIMIT, sparse_limit: int = SPARSE_LIMIT) -> str:
    """Which solver a batch of n tasks x m robots gets: 'dense' (exact), 'sparse' (candidates) or 'cells'."""
    if n * m <= dense_limit:
        return "dense"
    return "sparse" if n * m <= sparse_limit else "cells"
