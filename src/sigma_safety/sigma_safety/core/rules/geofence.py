"""Rule 5 — geofencing: keep-in and keep-out polygons of a site in the map frame. The predicted stopping position
(pose + velocity over the reaction time and half the stopping time) must stay in the allowed area; the robot slows
within ``slow_distance`` of a boundary and makes a protective stop on violation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sigma_safety.core.model import NOMINAL_OUTPUT, Fault, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import ConfigError, param, require

NEAR_BOUNDARY = 501
PREDICTED_VIOLATION = 502
OUTSIDE = 503

Point = tuple[float, float]


@dataclass(frozen=True)
class GeofenceParams:
    """Where the site's polygons come from and how the robot approaches a boundary."""

    file: str = param("", unit="path", description="YAML file with sites; empty = config/geofence.yaml of the package")
    site: str = param("warehouse", unit="name", description="site whose polygons apply; empty disables geofencing")
    slow_distance: float = param(1.0, unit="m", low=0.01, high=50.0,
                                 description="speed scales down linearly within this distance of a boundary")
    min_scale: float = param(0.1, unit="1", low=0.0, high=1.0,
                             description="speed scale at the boundary (before the stop)")
    reaction_time: float = param(0.1, unit="s", low=0.0, high=2.0, description="T_r used for the stopping prediction")
    stopping_time: float = param(0.5, unit="s", low=0.0, high=5.0, description="T_s used for the stopping prediction")
    resume_delay: float = param(1.0, unit="s", low=0.0, high=30.0,
                                description="a violation must be gone this long before motion resumes")

    def __post_init__(self) -> None:
        require(self.min_scale <= 1.0, "min_scale must be at most 1")


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    ax, ay, bx, by = a[0], a[1], b[0], b[1]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


@dataclass(frozen=True)
class Polygon:
    """A simple polygon (vertices in order, not closed)."""

    name: str
    vertices: tuple[Point, ...]

    def contains(self, p: Point) -> bool:
        """Even-odd point-in-polygon test."""
        inside = False
        n = len(self.vertices)
        for i in range(n):
            (x1, y1), (x2, y2) = self.vertices[i], self.vertices[(i + 1) % n]
            if (y1 > p[1]) != (y2 > p[1]) and p[0] < x1 + (p[1] - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def boundary_distance(self, p: Point) -> float:
        """Distance [m] from ``p`` to the polygon's boundary."""
        n = len(self.vertices)
        return min(_segment_distance(p, self.vertices[i], self.vertices[(i + 1) % n]) for i in range(n))


@dataclass(frozen=True)
class Site:
    """Allowed area = inside every keep-in polygon and outside every keep-out polygon."""

    name: str
    keep_in: tuple[Polygon, ...]
    keep_out: tuple[Polygon, ...]

    def margin(self, p: Point) -> tuple[float, str]:
        """Signed distance [m] to the nearest boundary (positive = allowed) and that boundary's name."""
        best = (math.inf, "")
        for poly in self.keep_in:
            d = poly.boundary_distance(p)
            best = min(best, (d if poly.contains(p) else -d, poly.name))
        for poly in self.keep_out:
            d = poly.boundary_distance(p)
            best = min(best, (-d if poly.contains(p) else d, poly.name))
        return best


def _polygon(name: str, raw: Any, where: str) -> Polygon:
    if not isinstance(raw, Sequence) or len(raw) < 3:
        raise ConfigError(f"{where}: polygon {name!r} needs a list of at least 3 [x, y] vertices")
    pts = []
    for i, v in enumerate(raw):
        if (not isinstance(v, Sequence) or len(v) != 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in v)):
            raise ConfigError(f"{where}: polygon {name!r} vertex {i} must be [x, y] finite numbers, got {v!r}")
        pts.append((float(v[0]), float(v[1])))
    return Polygon(name, tuple(pts))


def load_site(data: Mapping[str, Any], site: str, where: str = "geofence") -> Site:
    """Build a site from ``{"sites": {name: {"keep_in": {poly: [[x,y],...]}, "keep_out": {...}}}}``."""
    sites = data.get("sites") if isinstance(data, Mapping) else None
    if not isinstance(sites, Mapping) or site not in sites:
        known = sorted(sites) if isinstance(sites, Mapping) else []
        raise ConfigError(f"{where}: site {site!r} not found (known: {known})")
    entry = sites[site] or {}
    polys = {}
    for kind in ("keep_in", "keep_out"):
        raw = entry.get(kind) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: sites.{site}.{kind} must map polygon names to vertex lists")
        polys[kind] = tuple(_polygon(f"{kind}:{n}", v, where) for n, v in raw.items())
    if not polys["keep_in"]:
        raise ConfigError(f"{where}: site {site!r} has no keep_in polygon")
    return Site(site, polys["keep_in"], polys["keep_out"])


class GeofenceRule:
    """Slow near boundaries, stop when the predicted stopping position or the robot leaves the allowed area."""

    name = "geofence"

    def __init__(self, params: GeofenceParams, site: Site | None) -> None:
        self.params = params
        self.site = site
        self._violation_at: float | None = None

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Margins of the current and the predicted stopping position."""
        if self.site is None or snap.odom is None:
            return NOMINAL_OUTPUT
        p, o = self.params, snap.odom
        horizon = p.reaction_time + p.stopping_time / 2.0
        c, s = math.cos(o.yaw), math.sin(o.yaw)
        stop = (o.x + (c * o.vx - s * o.vy) * horizon, o.y + (s * o.vx + c * o.vy) * horizon)
        here, here_name = self.site.margin((o.x, o.y))
        ahead, ahead_name = self.site.margin(stop)
        if here <= 0.0:
            self._violation_at = now
            return RuleOutput((Fault(OUTSIDE, self.name, f"geofence:{here_name}",
                                     f"robot at ({o.x:.2f}, {o.y:.2f}) is {-here:.2f} m past {here_name}",
                                     Severity.PROTECTIVE_STOP, False, here, 0.0),), speed_scale=0.0)
        if ahead <= 0.0:
            self._violation_at = now
        if self._violation_at is not None and now - self._violation_at < p.resume_delay:
            return RuleOutput((Fault(PREDICTED_VIOLATION, self.name, f"geofence:{ahead_name}",
                                     f"predicted stop ({stop[0]:.2f}, {stop[1]:.2f}) within {ahead:.2f} m of "
                                     f"{ahead_name}", Severity.PROTECTIVE_STOP, False, ahead, 0.0),), speed_scale=0.0)
        self._violation_at = None
        margin = min(here, ahead)
        if margin < p.slow_distance:
            scale = max(p.min_scale, margin / p.slow_distance)
            return RuleOutput((Fault(NEAR_BOUNDARY, self.name, f"geofence:{here_name}",
                                     f"{margin:.2f} m from {here_name}: speed scaled to {scale:.0%}",
                                     Severity.WARNING, False, margin, p.slow_distance),), speed_scale=scale)
        return NOMINAL_OUTPUT
