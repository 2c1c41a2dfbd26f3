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


def components(site: SiteMap) -> list[list[int]]:
    """Connected-component label of every free cell (8-connected as the planner moves; -1 = blocked), cached."""
    if site.component_cache is not None:
        return site.component_cache
    label = [[-1] * site.width for _ in range(site.height)]
    n = 0
    for j0 in range(site.height):
        for i0 in range(site.width):
            if label[j0][i0] != -1 or not site.free(i0, j0):
                continue
            label[j0][i0], stack = n, [(i0, j0)]
            while stack:
                i, j = stack.pop()
                for ni, nj, _ in neighbours(site, i, j):
                    if label[nj][ni] == -1:
                        label[nj][ni] = n
                        stack.append((ni, nj))
            n += 1
    site.component_cache = label
    return label


def reachable(site: SiteMap, start: tuple[float, float], goal: tuple[float, float]) -> None:
    """Raise NoPathError unless a path exists (same connected component; no search needed)."""
    search = PathSearch(site, start, goal)       # validates the points and snaps a blocked start
    label = components(site)
    a, b = search.cells.start, search.cells.goal
    if label[a[1]][a[0]] != label[b[1]][b[0]]:
        raise NoPathError(f"no path from cell {a} to cell {b}: separated by obstacles")


def neighbour_table(site: SiteMap) -> list[tuple[tuple[int, float, int, int], ...]]:
    """Per flat cell index (j * width + i): its 8-neighbours as (index, cost, side, side) on the grid's own blocked
    cells, corner rule applied; the sides are the two cells a diagonal passes (-1 for straight moves). Computed once
    per grid and shared with overlays (``SiteMap.with_obstacles``), which check their extra blocked cells."""
    if site.neighbour_cache is not None:
        return site.neighbour_cache
    w = site.width
    table: list[tuple[tuple[int, float, int, int], ...]] = []
    for j in range(site.height):
        for i in range(w):
            table.append(tuple(
                (nj * w + ni, cost, (j * w + ni) if di and dj else -1, (nj * w + i) if di and dj else -1)
                for ni, nj, cost in neighbours(site, i, j) for di, dj in ((ni - i, nj - j),)))
    site.neighbour_cache = table
    return table


class CellSearch:
    """A* from ``start`` to ``goal`` that can run in slices (``advance(budget)``), so a long search is spread over
    several control ticks instead of stalling one (the tick stays short; the robot holds still meanwhile).

    Flat cell indices, a precomputed neighbour table and list-based g/closed sets: several times fewer Python operations
    per expansion than tuples and dicts, which is what keeps a planning tick short (bench/core_tick.py)."""

    def __init__(self, site: SiteMap, start: tuple[int, int], goal: tuple[int, int]) -> None:
        if not site.free(*start):
            raise NoPathError(f"start cell {start} is blocked or outside the map")
        if not site.free(*goal):
            raise NoPathError(f"goal cell {goal} is blocked or outside the map")
        self.site, self.start, self.goal = site, start, goal
        w, n = site.width, site.width * site.height
        self.table = neighbour_table(site)
        self.blocked = site.blocked_flat()
        s, g = start[1] * w + start[0], goal[1] * w + goal[0]
        self.s, self.g_index = s, g
        self.g = [math.inf] * n
        self.g[s] = 0.0
        self.parent = [-1] * n
        self.closed = bytearray(n)
        self.heap = [(octile(start, goal), 0.0, s)]
        self.expanded = 0

    def advance(self, budget: int) -> tuple[list[tuple[int, int]], float] | None:
        """Expand at most ``budget`` cells; the path and its cost when found, None if not yet; raises NoPathError."""
        heap, goal, g, parent, closed = self.heap, self.g_index, self.g, self.parent, self.closed
        table, blocked, w = self.table, self.blocked, self.site.width
        gi, gj = self.goal
        pop, push, diag = heapq.heappop, heapq.heappush, SQRT2 - 2.0
        for _ in range(max(1, budget)):
            if not heap:
                raise NoPathError(f"no path from cell {self.start} to cell {self.goal}: separated by obstacles")
            _, cost, cur = pop(heap)
            if closed[cur]:
                continue
            if cur == goal:
                path = [cur]
                while parent[cur] != -1:
                    cur = parent[cur]
                    path.append(cur)
                return [(c % w, c // w) for c in reversed(path)], cost
            closed[cur] = 1
            self.expanded += 1
            for nxt, step, a, b in table[cur]:
                if blocked[nxt] or (a >= 0 and (blocked[a] or blocked[b])):
                    continue
                c = cost + step
                if c < g[nxt]:
                    g[nxt] = c
                    parent[nxt] = cur
                    dx, dy = abs(nxt % w - gi), abs(nxt // w - gj)
                    push(heap, (c + dx + dy + diag * (dx if dx < dy else dy), c, nxt))
        return None


def astar_cells(site: SiteMap, start: tuple[int, int], goal: tuple[int, int]) -> tuple[list[tuple[int, int]], float]:
    """Shortest 8-connected cell path and its cost [cells]; raises NoPathError."""
    search = CellSearch(site, start, goal)
    while True:
        found = search.advance(1 << 30)
        if found is not None:
            return found


def line_free(site: SiteMap, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if the straight segment a→b (map coordinates) crosses only free cells (sampled at 1/4 cell)."""
    dist = math.hypot(b[0] - a[0], b[1] - a[1])
    n = max(1, math.ceil(dist / (site.resolution * 0.25)))
    for k in range(n + 1):
        t = k / n
        if not site.free_point(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])):
            return False
    return True


class PathSearch:
    """Plan from a map point to a map point in slices; ``advance`` returns the Plan once found."""

    def __init__(self, site: SiteMap, start: tuple[float, float], goal: tuple[float, float]) -> None:
        for label, (x, y) in (("start", start), ("goal", goal)):
            if not (math.isfinite(x) and math.isfinite(y)):
                raise NoPathError(f"{label} ({x}, {y}) is not a finite point")
        s_cell, g_cell = site.cell(*start), site.cell(*goal)
        if not site.free(*s_cell):
            s_cell = _nearest_free(site, s_cell)   # e.g. pushed slightly into the inflation band by a person
        self.site, self.start, self.goal = site, start, goal
        self.cells = CellSearch(site, s_cell, g_cell)

    def advance(self, budget: int) -> Plan | None:
        found = self.cells.advance(budget)
        return None if found is None else _shortcut(self.site, self.start, self.goal, found[0])


def plan_path(site: SiteMap, start: tuple[float, float], goal: tuple[float, float]) -> Plan:
    """Plan from a map point to a map point; waypoints start at ``start`` and end exactly at ``goal``."""
    search = PathSearch(site, start, goal)
    while True:
        plan = search.advance(1 << 30)
        if plan is not None:
            return plan


def _shortcut(site: SiteMap, start: tuple[float, float], goal: tuple[float, float],
              cells: list[tuple[int, int]]) -> Plan:
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
