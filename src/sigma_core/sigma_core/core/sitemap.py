"""The site map: an occupancy grid of the warehouse and its named places, built from the world files.

Obstacles are the box geoms of ``warehouse.xml`` (shelving units, walls), the walkable ``bounds`` and the keep-out
zones of ``warehouse.yaml``, all inflated by the robot's radius plus a clearance, so a free cell is a place the
robot's base origin may be. Places: ``shelf_<row>_<col>`` (the aisle-side pick face of a shelving unit, facing it),
the docks, or ``"x,y"`` in the map frame.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sigma_ros_common.params import param, require


@dataclass(frozen=True)
class MapParams:
    """Grid and clearance of the site map."""

    resolution: float = param(0.25, unit="m", low=0.05, high=1.0, description="side of one grid cell")
    robot_radius: float = param(0.35, unit="m", low=0.05, high=2.0,
                                description="radius of the robot's footprint around its base origin")
    clearance: float = param(0.15, unit="m", low=0.0, high=2.0,
                             description="extra free distance kept from shelves, walls and keep-out zones")
    pick_standoff: float = param(0.75, unit="m", low=0.3, high=2.0,
                                 description="distance of a shelf's pick place from the shelf face")

    def __post_init__(self) -> None:
        require(self.pick_standoff > self.robot_radius, "pick_standoff must exceed robot_radius")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle [m] (shelves and walls are axis-aligned in our worlds)."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class Place:
    """A named pose the robot can go to; ``yaw`` None means any heading."""

    name: str
    x: float
    y: float
    yaw: float | None = None
    kind: str = "point"   # "shelf", "dock" or "point"


class PlaceError(ValueError):
    """An unknown, malformed, blocked or unreachable place; the message says which and why."""


@dataclass
class SiteMap:
    """Occupancy grid (True = blocked for the robot's origin) plus named places."""

    name: str
    bounds: tuple[float, float, float, float]
    resolution: float
    width: int
    height: int
    blocked: list[list[bool]]           # [row j][col i]
    places: dict[str, Place] = field(default_factory=dict)
    keep_out: list[list[tuple[float, float]]] = field(default_factory=list)
    component_cache: list[list[int]] | None = field(default=None, repr=False)   # planner.components() fills it
    neighbour_cache: list | None = field(default=None, repr=False)       # planner.neighbour_table() fills it
    flat_cache: bytearray | None = field(default=None, repr=False)

    def blocked_flat(self) -> bytearray:
        """Blocked cells by flat index (j * width + i), 1 = blocked; cached."""
        if self.flat_cache is None:
            self.flat_cache = bytearray(b for row in self.blocked for b in row)
        return self.flat_cache

    # -- coordinates --------------------------------------------------------------------------------
    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(i, j) of the cell holding map point (x, y); may lie outside the grid."""
        return (math.floor((x - self.bounds[0]) / self.resolution),
                math.floor((y - self.bounds[1]) / self.resolution))

    def center(self, i: int, j: int) -> tuple[float, float]:
        """Map point at the centre of cell (i, j)."""
        return (self.bounds[0] + (i + 0.5) * self.resolution, self.bounds[1] + (j + 0.5) * self.resolution)

    def inside(self, i: int, j: int) -> bool:
        return 0 <= i < self.width and 0 <= j < self.height

    def free(self, i: int, j: int) -> bool:
        """True if the robot's origin may be in cell (i, j)."""
        return self.inside(i, j) and not self.blocked[j][i]

    def free_point(self, x: float, y: float) -> bool:
        return math.isfinite(x) and math.isfinite(y) and self.free(*self.cell(x, y))

    def with_obstacles(self, discs: tuple[tuple[float, float, float], ...]) -> SiteMap:
        """A copy with every cell whose centre lies within a disc (x, y, radius) [m] blocked too (people and other
        robots the executor routes around); places and bounds are shared."""
        blocked = [row[:] for row in self.blocked]
        res = self.resolution
        for x, y, r in discs:
            i0, j0 = self.cell(x - r, y - r)
            i1, j1 = self.cell(x + r, y + r)
            for j in range(max(0, j0), min(self.height, j1 + 1)):
                cy = self.bounds[1] + (j + 0.5) * res
                for i in range(max(0, i0), min(self.width, i1 + 1)):
                    if math.hypot(self.bounds[0] + (i + 0.5) * res - x, cy - y) < r:
                        blocked[j][i] = True
        # the base grid's neighbour table stays valid for the overlay: the search also checks the overlay's blocks
        return SiteMap(self.name, self.bounds, res, self.width, self.height, blocked, self.places, self.keep_out,
                       neighbour_cache=self.neighbour_cache)

    # -- places -------------------------------------------------------------------------------------
    def resolve(self, text: str) -> Place:
        """A place name or ``"x,y"``; raises PlaceError naming what is wrong."""
        text = (text or "").strip()
        if not text:
            raise PlaceError("no place given")
        if text in self.places:
            return self.places[text]
        if "," in text:
            parts = text.split(",")
            try:
                values = [float(p) for p in parts]
            except ValueError:
                raise PlaceError(f"place {text!r}: expected a name or 'x,y' with numbers") from None
            if len(values) not in (2, 3) or not all(math.isfinite(v) for v in values):
                raise PlaceError(f"place {text!r}: expected 'x,y' (or 'x,y,yaw') with finite numbers")
            place = Place(text, values[0], values[1], values[2] if len(values) == 3 else None)
            if not self.free_point(place.x, place.y):
                raise PlaceError(f"place {text!r} is not free for the robot (shelf, wall, keep-out zone or outside "
                                 f"the site)")
            return place
        known = ", ".join(sorted(self.places)[:6])
        raise PlaceError(f"unknown place {text!r} on site {self.name} (known e.g. {known}, ... or 'x,y')")

    def nearest_dock(self, x: float, y: float) -> Place:
        docks = [p for p in self.places.values() if p.kind == "dock"]
        if not docks:
            raise PlaceError(f"site {self.name} has no dock")
        return min(docks, key=lambda p: math.hypot(p.x - x, p.y - y))


def _polygon_contains(poly: list[tuple[float, float]], x: float, y: float) -> bool:
    inside = False
    n = len(poly)
    for k in range(n):
        (x1, y1), (x2, y2) = poly[k], poly[(k + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def build_grid(name: str, bounds: tuple[float, float, float, float], boxes: list[Box],
               keep_out: list[list[tuple[float, float]]], params: MapParams) -> SiteMap:
    """Rasterise boxes and keep-out polygons, inflated by robot radius + clearance, inside the walkable bounds."""
    xmin, ymin, xmax, ymax = bounds
    res = params.resolution
    width, height = math.ceil((xmax - xmin) / res), math.ceil((ymax - ymin) / res)
    inflate = params.robot_radius + params.clearance
    blocked = [[False] * width for _ in range(height)]
    for j in range(height):
        y = ymin + (j + 0.5) * res
        for i in range(width):
            x = xmin + (i + 0.5) * res
            if min(x - xmin, xmax - x, y - ymin, ymax - y) < inflate:
                blocked[j][i] = True
                continue
            for b in boxes:
                dx = max(b.xmin - x, 0.0, x - b.xmax)
                dy = max(b.ymin - y, 0.0, y - b.ymax)
                if math.hypot(dx, dy) < inflate:
                    blocked[j][i] = True
                    break
            else:
                for poly in keep_out:
                    if _polygon_contains(poly, x, y) or min(
                            _segment_distance(x, y, poly[k], poly[(k + 1) % len(poly)])
                            for k in range(len(poly))) < inflate:
                        blocked[j][i] = True
                        break
    return SiteMap(name, bounds, res, width, height, blocked, keep_out=keep_out)


def _boxes_from_mjcf(path: Path) -> list[Box]:
    """Every axis-aligned box geom with collisions (walls, shelves) of a MuJoCo world file."""
    boxes = []
    root = ET.parse(path).getroot()  # noqa: S314 - our own world file from the repository

    def walk(elem: ET.Element, ox: float, oy: float) -> None:
        for child in elem:
            if child.tag == "body":
                bx, by, *_ = (float(v) for v in child.get("pos", "0 0 0").split())
                walk(child, ox + bx, oy + by)
            elif child.tag == "geom" and child.get("type") == "box" and child.get("contype", "1") != "0":
                gx, gy, *_ = (float(v) for v in child.get("pos", "0 0 0").split())
                sx, sy, *_ = (float(v) for v in child.get("size", "0 0 0").split())
                cx, cy = ox + gx, oy + gy
                boxes.append(Box(child.get("name", "box"), cx - sx, cy - sy, cx + sx, cy + sy))

    worldbody = root.find("worldbody")
    if worldbody is None:
        raise ValueError(f"{path}: no <worldbody>")
    walk(worldbody, 0.0, 0.0)
    return boxes


def _shelf_places(boxes: list[Box], bounds: tuple[float, float, float, float], standoff: float) -> dict[str, Place]:
    """The pick place of each shelving unit: in front of the long face that looks towards the site's centre line."""
    places = {}
    mid_y = 0.5 * (bounds[1] + bounds[3])
    for b in boxes:
        if not b.name.startswith("shelf"):
            continue
        cx = 0.5 * (b.xmin + b.xmax)
        if (b.ymin + b.ymax) / 2 < mid_y:          # face north, towards the cross aisle
            places[b.name] = Place(b.name, cx, b.ymax + standoff, -math.pi / 2, "shelf")
        else:
            places[b.name] = Place(b.name, cx, b.ymin - standoff, math.pi / 2, "shelf")
    return places


def load_site(world_yaml: Path, params: MapParams | None = None) -> SiteMap:
    """Build the site map from ``worlds/<site>.yaml`` and the MJCF file it names."""
    params = params or MapParams()
    world_yaml = Path(world_yaml)
    try:
        spec = yaml.safe_load(world_yaml.read_text())
        bounds = tuple(float(v) for v in spec["bounds"])
        mjcf = world_yaml.parent / spec["mjcf"]
        zones = spec.get("zones", [])
        docks = spec.get("docks", [])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{world_yaml}: not a readable world file ({exc})") from exc
    if len(bounds) != 4:
        raise ValueError(f"{world_yaml}: bounds must be [xmin, ymin, xmax, ymax]")
    boxes = _boxes_from_mjcf(mjcf)
    keep_out = [[(float(p[0]), float(p[1])) for p in z["polygon"]] for z in zones if z.get("kind") == "keep_out"]
    site = build_grid(str(spec.get("name", world_yaml.stem)), bounds, boxes, keep_out, params)
    site.places.update(_shelf_places(boxes, bounds, params.pick_standoff))
    for d in docks:
        x, y, yaw = (float(v) for v in d["pose"])
        site.places[d["name"]] = Place(d["name"], x, y, yaw, "dock")
    for p in site.places.values():
        if not site.free_point(p.x, p.y):
            raise ValueError(f"{world_yaml}: place {p.name} at ({p.x:.2f}, {p.y:.2f}) is blocked on the grid")
    return site


def grid_from_strings(rows: list[str], resolution: float = 1.0) -> SiteMap:
    """A small map from text rows ('#' blocked, '.' free), row 0 at the top (largest y); for tests."""
    height, width = len(rows), len(rows[0])
    blocked = [[rows[height - 1 - j][i] == "#" for i in range(width)] for j in range(height)]
    return SiteMap("test", (0.0, 0.0, width * resolution, height * resolution), resolution, width, height, blocked)
