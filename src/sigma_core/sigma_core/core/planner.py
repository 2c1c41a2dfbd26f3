"""A* on the site map's occupancy grid (8-connected, no corner cutting), then line-of-sight shortcuts.

Costs are Euclidean (1 per straight step, sqrt 2 per diagonal, in cells); the octile heuristic is admissible and
consistent for these costs, so the first path popped at the goal is a shortest grid path (tested against an
exhaustive search on small maps).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

from sigma_core.core.sitemap import SiteMap

SQRT2 = math.sqrt(2.0)
_MOVES = [(1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
          (1, 1, SQRT2), (1, -1, SQRT2), (-1, 1, SQRT2), (-1, -1, SQRT2)]


class NoPathError(ValueError):
    """No path between the two cells; the message says why."""


@dataclass(frozen=True)
class Plan:
    """A path in map coordinates: waypoints (after shortcuts), its length [m] and the raw grid cells."""

    waypoints: tuple[tuple[float, float], ...]
    length: float
    cells: tuple[tuple[int, int], ...]


def octile(a: tuple[int, int], b: tuple[int, int]) -> float:
    dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
    return (dx + dy) + (SQRT2 - 2.0) * min(dx, dy)


def neighbours(site: SiteMap, i: int, j: int) -> Iterator[tuple[int, int, float]]:
    """Free 8-neighbours of (i, j); a diagonal step needs both side cells free (no corner cutting)."""
    for di, dj, cost in _MOVES:
        ni, nj = i + di, j + dj
        if not site.free(ni, nj):
            continue
        if di and dj and not (site.free(i + di, j) and site.free(i, j + dj)):
            continue
        yield ni, nj, cost


def astar_cells(site: SiteMap, start: tuple[int, int], goal: tuple[int, int]) -> tuple[list[tuple[int, int]], float]:
    """Shortest 8-connected cell path and its cost [cells]; raises NoPathError."""
    if not site.free(*start):
        raise NoPathError(f"start cell {start} is blocked or outside the map")
    if not site.free(*goal):
        raise NoPathError(f"goal cell {goal} is blocked or outside the map")
    g = {start: 0.0}
    parent: dict[tuple[int, int], tuple[int, int]] = {}
    heap = [(octile(start, goal), 0.0, start)]
    closed = set()
    while heap:
        _, cost, cur = heapq.heappop(heap)
        if cur in closed:
            continue
        if cur == goal:
            path = [cur]
            while cur in parent:
                cur = parent[cur]
                path.append(cur)
            return path[::-1], cost
        closed.add(cur)
        for ni, nj, step in neighbours(site, *cur):
            nxt = (ni, nj)
            c = cost + step
            if c < g.get(nxt, math.inf):
                g[nxt] = c
                parent[nxt] = cur
                heapq.heappush(heap, (c + octile(nxt, goal), c, nxt))
    raise NoPathError(f"no path from cell {start} to cell {goal}: separated by obstacles")


def line_free(site: SiteMap, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if the straight segment a→b (map coordinates) crosses only free cells (sampled at 1/4 cell)."""
    dist = math.hypot(b[0] - a[0], b[1] - a[1])
    n = max(1, math.ceil(dist / (site.resolution * 0.25)))
    for k in range(n + 1):
        t = k / n
        if not site.free_point(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])):
            return False
    return True


def plan_path(site: SiteMap, start: tuple[float, float], goal: tuple[float, float]) -> Plan:
    """Plan from a map point to a map point; waypoints start at ``start`` and end exactly at ``goal``."""
    for label, (x, y) in (("start", start), ("goal", goal)):
        if not (math.isfinite(x) and math.isfinite(y)):
            raise NoPathError(f"{label} ({x}, {y}) is not a finite point")
    s_cell, g_cell = site.cell(*start), site.cell(*goal)
    if not site.free(*s_cell):
        s_cell = _nearest_free(site, s_cell)   # e.g. pushed slightly into the inflation band by a person
    cells, _ = astar_cells(site, s_cell, g_cell)
    points = [start] + [site.center(i, j) for i, j in cells[1:-1]] + [goal]
    waypoints = [points[0]]
    k = 0
    while k < len(points) - 1:
        far = len(points) - 1
        while far > k + 1 and not line_free(site, points[k], points[far]):
            far -= 1
        waypoints.append(points[far])
        k = far
    length = sum(math.dist(waypoints[n], waypoints[n + 1]) for n in range(len(waypoints) - 1))
    return Plan(tuple(waypoints), length, tuple(cells))


def _nearest_free(site: SiteMap, cell: tuple[int, int], max_ring: int = 4) -> tuple[int, int]:
    for r in range(1, max_ring + 1):
        ring = [(cell[0] + di, cell[1] + dj) for di in range(-r, r + 1) for dj in range(-r, r + 1)
                if max(abs(di), abs(dj)) == r]
        free = [c for c in ring if site.free(*c)]
        if free:
            return min(free, key=lambda c: math.dist(c, cell))
    raise NoPathError(f"start cell {cell} is blocked and no free cell is within {max_ring} cells")
