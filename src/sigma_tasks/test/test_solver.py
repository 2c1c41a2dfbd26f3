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


@settings(max_examples=300, deadline=None)
@given(instances())
def test_sparse_with_all_pairs_equals_brute_force(inst):
    cost, unassigned = inst
    n, m = cost.shape
    j, i = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    assign = solver.solve_sparse(j, i, cost.ravel(), unassigned, n, m)
    _valid(assign, cost)
    assert np.isclose(solver.objective(assign, cost, unassigned), brute_force(cost, unassigned))


@settings(max_examples=200, deadline=None)
@given(instances())
def test_greedy_is_valid_and_never_better_than_optimal(inst):
    cost, unassigned = inst
    n, m = cost.shape
    j, i = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    assign = solver.solve_greedy(j, i, cost.ravel(), unassigned, n, m)
    _valid(assign, cost)
    assert solver.objective(assign, cost, unassigned) >= brute_force(cost, unassigned) - 1e-9


def test_sparse_candidates_close_to_exact_on_a_uniform_instance():
    rng = np.random.default_rng(7)
    n = m = 300
    tasks, robots = rng.random((n, 2)) * 100, rng.random((m, 2)) * 100
    cost = np.hypot(tasks[:, None, 0] - robots[None, :, 0], tasks[:, None, 1] - robots[None, :, 1])
    unassigned = np.full(n, 1e4)
    exact = solver.objective(solver.solve_dense(cost, unassigned), cost, unassigned)
    j, i = solver.candidates(tasks, robots, k=12)
    assign = solver.solve_sparse(j, i, cost[j, i], unassigned, n, m)
    assign = solver.repair(assign, m, unassigned, lambda jj, ii: cost[jj, ii])
    assert (assign >= 0).all()
    sparse = solver.objective(assign, cost, unassigned)
    assert exact <= sparse <= exact * 1.02


def test_choose_by_size():
    assert solver.choose(100, 100) == "dense"
    assert solver.choose(10_000, 10_000) == "sparse"
    assert solver.choose(10_000_000, 10_000) == "greedy"
