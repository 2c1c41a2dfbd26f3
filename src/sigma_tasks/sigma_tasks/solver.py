"""Batch assignment: each task to at most one robot, each robot at most one task per round, minimum total cost.

Objective: Σ cost(assigned pairs) + Σ unassigned_cost(task) over tasks left for the next round (that cost grows
with priority, so high-priority tasks win robots when there are too few). Infeasible pairs have cost +inf.

Solvers, chosen by size (`choose`):
- dense exact: `scipy.optimize.linear_sum_assignment` (Jonker-Volgenant) on the savings matrix
  min(cost - unassigned_cost, 0) — exact for the objective above, up to `DENSE_LIMIT` pairs (2,000 x 2,000);
- sparse exact on candidates: each task's k nearest robots (KD-tree on straight-line distance, a lower bound of the
  path length), solved with `scipy.sparse.csgraph.min_weight_full_bipartite_matching` (LAPJVsp) with one private
  "leave unassigned" column per task so a full matching always exists. Exact on the candidate graph; tasks it
  leaves unassigned get a dense second chance among the robots left free (`repair`). The gap to the full problem
  is what bench/allocation_scale.py measures;
- greedy (cheapest pair first) only when the candidate graph exceeds `SPARSE_EDGE_LIMIT` edges.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

DENSE_LIMIT = 4_000_000  # tasks x robots solved densely and exactly
SPARSE_EDGE_LIMIT = 20_000_000  # candidate edges solved exactly; beyond this, greedy
DEFAULT_K = 12  # candidate robots per task in sparse mode


def objective(assign: np.ndarray, cost: np.ndarray, unassigned: np.ndarray) -> float:
    """Total cost of a dense assignment (assign[j] = robot index or -1)."""
    rows = np.flatnonzero(assign >= 0)
    return float(cost[rows, assign[rows]].sum() + unassigned[assign < 0].sum())


def solve_dense(cost: np.ndarray, unassigned: np.ndarray) -> np.ndarray:
    """Optimal assignment for a dense (tasks x robots) cost matrix with +inf for infeasible pairs."""
    n, m = cost.shape
    assign = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return assign
    savings = np.minimum(cost - unassigned[:, None], 0.0)  # inf - U stays inf → clipped to 0 (never worth it)
    rows, cols = linear_sum_assignment(savings)
    take = savings[rows, cols] < 0.0
    assign[rows[take]] = cols[take]
    return assign


def solve_sparse(
    j: np.ndarray, i: np.ndarray, cost: np.ndarray, unassigned: np.ndarray, n: int, m: int
) -> np.ndarray:
    """Optimal assignment restricted to the given candidate pairs (task j[k], robot i[k], cost[k])."""
    assign = np.full(n, -1, dtype=np.int64)
    keep = np.isfinite(cost) & (cost < unassigned[j])
    j, i, c = j[keep], i[keep], cost[keep]
    if n == 0 or len(j) == 0:
        return assign
    # Columns 0…m-1 are robots, m+t is task t's private "unassigned" column. All weights > 0: explicit zeros would
    # be read as missing edges.
    rows = np.concatenate([j, np.arange(n)])
    cols = np.concatenate([i, m + np.arange(n)])
    weights = np.concatenate([c, unassigned]) + 1.0
    graph = coo_array((weights, (rows, cols)), shape=(n, m + n)).tocsr()
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < m
    assign[row_ind[real]] = col_ind[real]
    return assign


def solve_greedy(
    j: np.ndarray, i: np.ndarray, cost: np.ndarray, unassigned: np.ndarray, n: int, m: int
) -> np.ndarray:
    """Cheapest feasible pair first; for candidate graphs too large for the exact sparse solver."""
    assign = np.full(n, -1, dtype=np.int64)
    robot_taken = np.zeros(m, dtype=bool)
    keep = np.isfinite(cost) & (cost < unassigned[j])
    order = np.argsort(cost[keep] - unassigned[j[keep]], kind="stable")
    for jj, ii in zip(j[keep][order], i[keep][order], strict=True):
        if assign[jj] < 0 and not robot_taken[ii]:
            assign[jj] = ii
            robot_taken[ii] = True
    return assign


def candidates(task_points: np.ndarray, robot_points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (task j, robot i): each task's k nearest robots and each robot's k nearest tasks (straight-line
    distance), sorted by task. Both directions, so no robot is left without candidates in a dense cluster."""
    n, m = len(task_points), len(robot_points)
    if n == 0 or m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kr, kt = min(k, m), min(k, n)
    _, near_r = cKDTree(robot_points).query(task_points, k=kr)
    _, near_t = cKDTree(task_points).query(robot_points, k=kt)
    j = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), kr), np.asarray(near_t, dtype=np.int64).ravel()])
    i = np.concatenate([np.asarray(near_r, dtype=np.int64).ravel(), np.repeat(np.arange(m, dtype=np.int64), kt)])
    key = np.unique(j * m + i)  # de-duplicated, sorted by task then robot
    return key // m, key % m


def repair(
    assign: np.ndarray, m: int, unassigned: np.ndarray, pair_cost: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Give tasks the candidate graph left unassigned a second, dense chance among the robots left free."""
    free_t = np.flatnonzero(assign < 0)
    taken = np.zeros(m, dtype=bool)
    taken[assign[assign >= 0]] = True
    free_r = np.flatnonzero(~taken)
    if len(free_t) == 0 or len(free_r) == 0 or len(free_t) * len(free_r) > DENSE_LIMIT:
        return assign
    jj, ii = np.repeat(free_t, len(free_r)), np.tile(free_r, len(free_t))
    sub = solve_dense(pair_cost(jj, ii).reshape(len(free_t), len(free_r)), unassigned[free_t])
    out = assign.copy()
    hit = sub >= 0
    out[free_t[hit]] = free_r[sub[hit]]
    return out


def choose(n: int, m: int, k: int = DEFAULT_K, dense_limit: int = DENSE_LIMIT) -> str:
    """Which solver a batch of n tasks x m robots gets: 'dense', 'sparse' or 'greedy'."""
    if n * m <= dense_limit:
        return "dense"
    if n * min(k, m) <= SPARSE_EDGE_LIMIT:
        return "sparse"
    return "greedy"
