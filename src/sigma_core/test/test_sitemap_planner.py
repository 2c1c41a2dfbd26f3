"""Site map from the world files, and A* against an exhaustive search on small maps."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kinematic import warehouse

from sigma_core.core.planner import SQRT2, NoPathError, astar_cells, line_free, neighbours, plan_path
from sigma_core.core.sitemap import PlaceError, grid_from_strings


@pytest.fixture(scope="module")
def site():
    return warehouse()


def test_places_come_from_the_world_files_and_are_free(site):
    assert {f"shelf_{r}_{c}" for r in range(4) for c in range(3)} | {"dock_1", "dock_2", "dock_3"} == set(site.places)
    for p in site.places.values():
        assert site.free_point(p.x, p.y), p
    # shelf_1_1 is centred at (0, -2), 0.8 m deep: its pick place is 0.75 m in front of the north face, facing south
    p = site.places["shelf_1_1"]
    assert (p.x, p.y, p.yaw) == pytest.approx((0.0, -1.6 + 0.75, -math.pi / 2))
    assert site.places["dock_3"].yaw == pytest.approx(3.1416)


def test_shelves_walls_and_keep_out_zones_are_blocked(site):
    assert not site.free_point(0.0, -2.0)          # inside shelf_1_1
    assert not site.free_point(0.0, -2.0 + 0.4 + 0.3)  # within robot radius + clearance of its face
    assert not site.free_point(13.5, 6.0)          # packing_humans_only (keep-out)
    assert not site.free_point(14.4, 0.0)          # too close to the east wall
    assert site.free_point(-10.0, 0.0)             # spawn of robot 1


def test_resolve_refuses_unknown_malformed_and_blocked_places(site):
    assert site.resolve("2.5,0").x == 2.5
    for bad, words in [("shelf_9_9", "unknown place"), ("", "no place"), ("nan,1", "finite"),
                       ("1,2,3,4", "x,y"), ("a,b", "numbers"), ("0,-2", "not free"), ("13.5,6", "not free")]:
        with pytest.raises(PlaceError, match=words):
            site.resolve(bad)


def test_paths_avoid_obstacles_and_end_exactly_at_the_goal(site):
    start, goal = (-10.0, 0.0), (site.places["dock_3"].x, site.places["dock_3"].y)
    plan = plan_path(site, start, goal)
    assert plan.waypoints[0] == start and plan.waypoints[-1] == goal
    for a, b in zip(plan.waypoints, plan.waypoints[1:], strict=False):
        assert line_free(site, a, b)
    assert plan.length >= math.dist(start, goal)
    with pytest.raises(NoPathError):
        plan_path(site, start, (0.0, -2.0))
    with pytest.raises(NoPathError, match="finite"):
        plan_path(site, (math.nan, 0.0), goal)


def brute_force(site, start, goal):
    """Exhaustive depth-first search over simple paths (branch and bound keeps it exact and finite)."""
    best = [math.inf]

    def dfs(cell, cost, seen):
        if cost >= best[0]:
            return
        if cell == goal:
            best[0] = cost
            return
        for i, j, step in neighbours(site, *cell):
            if (i, j) not in seen:
                seen.add((i, j))
                dfs((i, j), cost + step, seen)
                seen.discard((i, j))

    if site.free(*start) and site.free(*goal):
        dfs(start, 0.0, {start})
    return best[0]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=20, max_size=20), st.integers(0, 19), st.integers(0, 19))
def test_astar_cost_equals_exhaustive_search_on_small_maps(cells, s, g):
    rows = ["".join("#" if cells[r * 5 + c] else "." for c in range(5)) for r in range(4)]
    site = grid_from_strings(rows)
    start, goal = (s % 5, s // 5), (g % 5, g // 5)
    expected = brute_force(site, start, goal)
    if math.isinf(expected):
        with pytest.raises(NoPathError):
            astar_cells(site, start, goal)
        return
    path, cost = astar_cells(site, start, goal)
    assert cost == pytest.approx(expected)
    assert path[0] == start and path[-1] == goal
    # the returned path is a real path of that cost
    total = sum(SQRT2 if a[0] != b[0] and a[1] != b[1] else 1.0 for a, b in itertools.pairwise(path))
    assert total == pytest.approx(cost)
    assert all(site.free(*c) for c in path)


def test_no_corner_cutting_between_two_blocked_cells():
    site = grid_from_strings([".#", "#."])
    with pytest.raises(NoPathError):
        astar_cells(site, (0, 0), (1, 1))


def test_search_in_slices_finds_the_same_path_and_reachability_uses_components():
    from sigma_core.core.planner import PathSearch, reachable

    site = warehouse()
    start, goal = (-10.0, 0.0), (site.places["dock_3"].x, site.places["dock_3"].y)
    search, slices, plan = PathSearch(site, start, goal), 0, None
    while plan is None:
        plan = search.advance(200)
        slices += 1
    assert slices > 3 and plan == plan_path(site, start, goal)
    reachable(site, start, goal)
    walled = grid_from_strings(["..#..", "..#..", "..#.."])
    with pytest.raises(NoPathError, match="separated"):
        reachable(walled, (0.5, 0.5), (4.5, 0.5))
