"""A site's floor plan for the console map, from a sigma_sim world (YAML + the MJCF's shelf boxes). Pure."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ZONE_KINDS = ("aisle", "dock", "keep_out", "zone")
MAX_ITEMS = 2000


class MapError(ValueError):
    """A site map that cannot be drawn: names the field at fault."""


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > 1e6:
        raise MapError(f"{where} must be a finite number within +-1e6")
    return float(value)


def _point(value: Any, where: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise MapError(f"{where} must be [x, y]")
    return [_num(value[0], f"{where}[0]"), _num(value[1], f"{where}[1]")]


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise MapError(f"{where} must be a name of 1..64 characters")
    return value


def validate(raw: Any) -> dict[str, Any]:
    """The normalised map (bounds, zones, docks, shelves, foxglove) or MapError naming what is wrong."""
    if not isinstance(raw, dict):
        raise MapError("map must be an object")
    bounds = raw.get("bounds")
    if not isinstance(bounds, list) or len(bounds) != 4:
        raise MapError("bounds must be [xmin, ymin, xmax, ymax]")
    b = [_num(v, f"bounds[{i}]") for i, v in enumerate(bounds)]
    if b[0] >= b[2] or b[1] >= b[3]:
        raise MapError("bounds must have xmin < xmax and ymin < ymax")
    out: dict[str, Any] = {"bounds": b, "zones": [], "docks": [], "shelves": [], "foxglove": {}}
    for key in ("zones", "docks", "shelves"):
        items = raw.get(key, [])
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise MapError(f"{key} must be a list of at most {MAX_ITEMS}")
        for i, item in enumerate(items):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                raise MapError(f"{where} must be an object")
            name = _name(item.get("name"), f"{where}.name")
            if key == "zones":
                kind = item.get("kind", "zone")
                if kind not in ZONE_KINDS:
                    raise MapError(f"{where}.kind must be one of {', '.join(ZONE_KINDS)}")
                poly = item.get("polygon")
                if not isinstance(poly, list) or not 3 <= len(poly) <= 256:
                    raise MapError(f"{where}.polygon must have 3..256 points")
                out[key].append({"name": name, "kind": kind,
                                 "polygon": [_point(p, f"{where}.polygon[{j}]") for j, p in enumerate(poly)]})
            elif key == "docks":
                x, y = _point(item.get("pose", [item.get("x"), item.get("y")]), f"{where}.pose")  # world or stored
                out[key].append({"name": name, "x": x, "y": y})
            else:
                x, y = _point(item.get("center"), f"{where}.center")
                hx, hy = _point(item.get("half_size"), f"{where}.half_size")
                out[key].append({"name": name, "center": [x, y], "half_size": [abs(hx), abs(hy)]})
    fox = raw.get("foxglove", {})
    if not isinstance(fox, dict) or len(fox) > 10_000 or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= 512
            and v.startswith(("ws://", "wss://")) for k, v in fox.items()):
        raise MapError("foxglove must map robot ids (or '*', with {robot_id}) to ws:// or wss:// URLs")
    out["foxglove"] = fox
    return out


def shelves_from_mjcf(xml_text: str) -> list[dict[str, Any]]:
    """Shelf boxes (bodies named shelf*) of an MJCF world: centre and half size in the floor plane."""
    shelves = []
    root = ET.fromstring(xml_text)  # noqa: S314 - the operator's own world file
    for body in root.iter("body"):
        name = body.get("name", "")
        geom = body.find("geom")
        if not name.startswith("shelf") or geom is None or geom.get("type") != "box":
            continue
        x, y = (float(v) for v in body.get("pos", "0 0 0").split()[:2])
        hx, hy = (float(v) for v in geom.get("size", "0 0 0").split()[:2])
        shelves.append({"name": name, "center": [x, y], "half_size": [hx, hy]})
    return shelves


def from_world(world_yaml: Path) -> dict[str, Any]:
    """The site map of a sigma_sim world file (and its MJCF's shelves), validated."""
    import yaml  # only the CLI reads world files

    world = yaml.safe_load(world_yaml.read_text())
    shelves = []
    if world.get("mjcf"):
        shelves = shelves_from_mjcf((world_yaml.parent / world["mjcf"]).read_text())
    return validate({"bounds": world["bounds"], "zones": world.get("zones", []),
                     "docks": world.get("docks", []), "shelves": shelves})
