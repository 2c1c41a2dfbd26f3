"""The optimal solvers equal brute force on small instances; greedy is never better than optimal."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sigma_tasks import solver


def brute_force(cost: np.ndarray, unassigned: np.ndarray) -> float:
    n, m = cost.shape
    best = np.inf
    for choice in itertools.product(range(-1, m), repeat=n):
        used = [c for c in choice if c >= 0]
        if len(used) != len(set(used)):
            continue
        total = sum(unassigned[t] if c < 0 else cost[t, c] for t, c in enumerate(choice))
        best = min(best, total)
    return best


costs = st.floats(min_value=0.5, max_value=100.0, allow_nan=False) | st.just(np.inf)


@st.composite
def instances(draw):
    n = draw(st.integers(0, 4))
    m = draw(st.integers(0, 4))
    cost = draw(arrays(float, (n, m), elements=costs))
    unassigned = draw(arrays(float, (n,), elements=st.floats(min_value=1.0, max_value=150.0)))
    return cost, unassigned


def _valid(assign: np.ndarray, cost: np.ndarray) -> None:
    used = assign[assign >= 0]
    assert len(used) == len(set(used.tolist())), "a robot got two tasks"
    assert np.isfinite(cost[np.flatnonzero(assign >= 0), used]).all(), "an infeasible pair was assigned"


@settings(max_examples=300, deadline=None)
@given(instances())
def test_dense_equals_brute_force(inst):
    cost, unassigned = inst
    assign = solver.solve_dense(cost, unassigned)
    _valid(assign, cost)
    assert np.isclose(solver.objective(assign, cost, unassigned), brute_force(cost, unassigned))


@settings(max_examples=200, deadline=None)
@given(instances(), st.integers(1, 8), st.integers(0, 2), st.integers(0, 2**16))
def test_cells_are_valid_never_better_than_optimal_and_exact_in_one_cell(inst, limit, passes, seed):
    cost, unassigned = inst
    n, m = cost.shape
    rng = np.random.default_rng(seed)
    tasks, robots = rng.random((n, 2)), rng.random((m, 2))
    pair_cost = lambda jj, ii: cost[jj, ii]  # noqa: E731
    assign = solver.solve_cells(tasks, robots, pair_cost, unassigned, limit=limit, passes=passes)
    _valid(assign, cost)
    best = brute_force(cost, unassigned)
    assert solver.objective(assign, cost, unassigned) >= best - 1e-9
    one_cell = solver.solve_cells(tasks, robots, pair_cost, unassigned, limit=max(1, n * m), passes=passes)
    assert np.isclose(solver.objective(one_cell, cost, unassigned), best)


def test_partition_keeps_every_task_and_robot_once_and_the_ratio():
    rng = np.random.default_rng(3)
    tasks, robots = rng.random((900, 2)) * 50, rng.random((600, 2)) * 50
    cells = solver.partition(tasks, robots, limit=20_000)
    assert len(cells) > 4
    assert sorted(np.concatenate([t for t, _ in cells]).tolist()) == list(range(900))
    assert sorted(np.concatenate([r for _, r in cells]).tolist()) == list(range(600))
    for t, r in cells:
        assert len(t) * len(r) <= 20_000
        assert abs(len(r) / len(t) - 600 / 900) < 0.05


def test_cells_within_two_percent_of_exact_on_a_uniform_instance():
    rng = np.random.default_rng(7)
    n = m = 600
    tasks, robots = rng.random((n, 2)) * 245, rng.random((m, 2)) * 245
    cost = np.hypot(tasks[:, None, 0] - robots[None, :, 0], tasks[:, None, 1] - robots[None, :, 1]) + 40.0
    unassigned = np.full(n, 1e5)
    exact = solver.objective(solver.solve_dense(cost, unassigned), cost, unassigned)
    assign = solver.solve_cells(tasks, robots, lambda jj, ii: cost[jj, ii], unassigned, limit=12_000)
    assert (assign >= 0).all()
    one_pass = solver.solve_cells(tasks, robots, lambda jj, ii: cost[jj, ii], unassigned, limit=12_000, passes=0)
    got, unrefined = solver.objective(assign, cost, unassigned), solver.objective(one_pass, cost, unassigned)
    assert exact <= got <= unrefined and got <= exact * 1.02


def test_choose_by_size():
    assert solver.choose(100, 100) == "dense"
    assert solver.choose(500, 500) == "dense"
    assert solver.choose(1000, 1000) == "sparse"
    assert solver.choose(3000, 3000) == "sparse"
    assert solver.choose(10_000, 10_000) == "cells"


@settings(max_examples=300, deadline=None)
@given(instances())
def test_sparse_on_every_pair_equals_brute_force(inst):
    """The candidate-graph solver is exact when every pair is a candidate (infeasible pairs are left out)."""
    cost, unassigned = inst
    n, m = cost.shape
    rows, cols = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    assign = solver.solve_sparse(rows, cols, cost.reshape(-1), unassigned, m)
    _valid(assign, cost)
    assert np.isclose(solver.objective(assign, cost, unassigned), brute_force(cost, unassigned))


def _uniform(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = np.sqrt(100.0 * n)
    tasks, robots = rng.random((n, 2)) * side, rng.random((n, 2)) * side
    cost = np.hypot(tasks[:, None, 0] - robots[None, :, 0], tasks[:, None, 1] - robots[None, :, 1]) + 40.0
    return tasks, robots, cost


def test_candidates_within_two_percent_of_exact_and_place_every_task():
    tasks, robots, cost = _uniform(900, 3)
    unassigned = np.full(900, 1e5)
    exact = solver.objective(solver.solve_dense(cost, unassigned), cost, unassigned)
    assign = solver.solve_candidates(tasks, robots, lambda jj, ii: cost[jj, ii], unassigned)
    _valid(assign, cost)
    assert (assign >= 0).all()
    assert exact <= solver.objective(assign, cost, unassigned) <= exact * 1.02


def test_candidates_reach_far_capable_robots_when_the_nearest_cannot():
    """Heavy tasks that only the few strong robots can carry: among their 64 nearest robots hardly any can, so the
    candidate graph must widen for them far beyond the first k (and the exact solve then gives every strong robot
    a heavy task, sending the light tasks near it to other robots)."""
    tasks, robots, cost = _uniform(900, 5)
    strong = np.arange(0, 900, 150)          # 6 robots spread over the site
    heavy = np.arange(0, 900, 100)           # 9 tasks: more than the strong robots
    cost[np.ix_(heavy, np.setdiff1d(np.arange(900), strong))] = np.inf
    unassigned = np.full(900, 1e5)
    exact = solver.solve_dense(cost, unassigned)
    assign = solver.solve_candidates(tasks, robots, lambda jj, ii: cost[jj, ii], unassigned)
    _valid(assign, cost)
    assert (assign[heavy] >= 0).sum() == (exact[heavy] >= 0).sum() == len(strong)
    assert np.isin(assign[heavy][assign[heavy] >= 0], strong).all()
