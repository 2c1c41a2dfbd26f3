"""World description: MJCF geometry plus zones, docks, spawn poses and people from worlds/<name>.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sigma_sim.humans import MAX_WALK_SPEED
from sigma_sim.robot_model import ModelError


@dataclass(frozen=True)
class Zone:
    name: str
    kind: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class HumanSpec:
    id: str
    mode: str
    speed: float
    start: tuple[float, float]
    waypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class World:
    path: Path
    name: str
    mjcf: Path
    bounds: tuple[float, float, float, float]
    zones: tuple[Zone, ...]
    docks: dict[str, tuple[float, float, float]]
    spawns: tuple[tuple[float, float, float], ...]
    humans: tuple[HumanSpec, ...]


def _floats(value: object, n: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ModelError(f"{where}: expected a list of {n} numbers, got {value!r}")
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: expected numbers, got {value!r}") from None


def load_world(path: str | Path) -> World:
    """Load and validate a world YAML; errors name the file and the element."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot load: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: top level must be a mapping")
    for key in ("mjcf", "bounds", "spawns"):
        if key not in doc:
            raise ModelError(f"{path}: missing required key {key!r}")
    mjcf = path.parent / str(doc["mjcf"])
    if not mjcf.is_file():
        raise ModelError(f"{path}: mjcf: file {mjcf} does not exist")
    bounds = _floats(doc["bounds"], 4, f"{path}: bounds")
    if not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
        raise ModelError(f"{path}: bounds: need xmin < xmax and ymin < ymax")
    zones = []
    for i, z in enumerate(doc.get("zones") or []):
        where = f"{path}: zones[{i}]"
        if not isinstance(z, dict) or "name" not in z or "polygon" not in z:
            raise ModelError(f"{where}: needs 'name' and 'polygon'")
        poly = tuple(_floats(p, 2, f"{where}.polygon") for p in z["polygon"])
        if len(poly) < 3:
            raise ModelError(f"{where}.polygon: needs at least 3 points")
        zones.append(Zone(str(z["name"]), str(z.get("kind", "zone")), poly))  # type: ignore[arg-type]  # _floats: 2-tuples
    docks = {}
    for i, d in enumerate(doc.get("docks") or []):
        if not isinstance(d, dict) or "name" not in d:
            raise ModelError(f"{path}: docks[{i}]: needs 'name' and 'pose'")
        docks[str(d["name"])] = _floats(d.get("pose"), 3, f"{path}: docks[{i}].pose")
    spawns = tuple(_floats(s, 3, f"{path}: spawns[{i}]") for i, s in enumerate(doc["spawns"]))
    humans = []
    for i, h in enumerate(doc.get("humans") or []):
        where = f"{path}: humans[{i}]"
        if not isinstance(h, dict) or "id" not in h or "start" not in h:
            raise ModelError(f"{where}: needs 'id' and 'start'")
        speed = float(h.get("speed", 1.0))
        if not 0.0 < speed <= MAX_WALK_SPEED:
            raise ModelError(f"{where}.speed: {speed} m/s out of (0, {MAX_WALK_SPEED}]")
        mode = str(h.get("mode", "loop"))
        if mode not in ("loop", "random"):
            raise ModelError(f"{where}.mode: {mode!r} is not loop or random")
        wps = tuple(_floats(p, 2, f"{where}.waypoints") for p in h.get("waypoints") or [])
        if mode == "loop" and len(wps) < 2:
            raise ModelError(f"{where}.waypoints: a loop walker needs at least 2 waypoints")
        start = _floats(h["start"], 2, f"{where}.start")
        humans.append(HumanSpec(str(h["id"]), mode, speed, start, wps))  # type: ignore[arg-type]  # _floats: 2-tuples
    # _floats returns tuples of the requested length, which the checker cannot see.
    return World(path, str(doc.get("name", path.stem)), mjcf, bounds, tuple(zones), docks, spawns,  # type: ignore[arg-type]  # see above
                 tuple(humans))
