"""Task model: what a fleet manager asks for, and the site's places it refers to.

Plain frozen dataclasses, no I/O. Times are seconds on one clock the caller chooses (the cloud uses Unix time,
the swarm leader its own monotonic clock); positions are metres in the site's map frame (REP-103).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Point = tuple[float, float]


class TaskKind(str, enum.Enum):
    """What a task asks a robot to do."""

    DELIVER = "deliver"  # carry a tote of `payload_kg` from `pickup` to `dropoff`
    GO_TO = "go_to"  # drive to `place`
    CHARGE = "charge"  # dock at `place` (a dock) and charge to full


class PlaceKind(str, enum.Enum):
    """Kinds of named places on a site's map (from the warehouse world)."""

    DOCK = "dock"  # charging station
    SHELF = "shelf"
    ZONE = "zone"
    WAYPOINT = "waypoint"


class TaskError(ValueError):
    """A task or place that cannot be accepted; `field` names the offending input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Place:
    """A named place on the site map."""

    name: str
    kind: PlaceKind
    x: float
    y: float

    @property
    def point(self) -> Point:
        return (self.x, self.y)


@dataclass(frozen=True)
class SiteMap:
    """The places of one site. Path lengths between points come from an injected distance function."""

    places: Mapping[str, Place] = field(default_factory=dict)

    @classmethod
    def from_places(cls, places: Iterable[Place]) -> SiteMap:
        table: dict[str, Place] = {}
        for place in places:
            if place.name in table:
                raise TaskError(f"place {place.name!r} is listed twice", field="places")
            if not (math.isfinite(place.x) and math.isfinite(place.y)):
                raise TaskError(f"place {place.name!r} has a non-finite position", field="places")
            table[place.name] = place
        return cls(places=table)

    def point(self, name: str) -> Point:
        return self.places[name].point

    def docks(self) -> list[Place]:
        return [p for p in self.places.values() if p.kind is PlaceKind.DOCK]

    def unknown(self, names: Iterable[str]) -> list[str]:
        """Names in `names` that are not places of this site (in the order given)."""
        return [n for n in names if n not in self.places]


@dataclass(frozen=True)
class TaskSpec:
    """One task as created. `priority` 0 (lowest) … 10 (highest); `deadline` None = no deadline."""

    task_id: str
    kind: TaskKind
    pickup: str | None = None  # DELIVER: where the tote is
    dropoff: str | None = None  # DELIVER: where it goes
    place: str | None = None  # GO_TO / CHARGE: the target
    payload_kg: float = 0.0
    priority: int = 0
    earliest_start: float = 0.0
    deadline: float | None = None

    def places(self) -> list[str]:
        """The places this task refers to, in route order."""
        if self.kind is TaskKind.DELIVER:
            return [p for p in (self.pickup, self.dropoff) if p is not None]
        return [self.place] if self.place is not None else []

    @property
    def start_place(self) -> str:
        return self.places()[0]

    @property
    def end_place(self) -> str:
        return self.places()[-1]

    def validate(self, site: SiteMap | None = None) -> None:
        """Raise TaskError naming the first field that is wrong (and unknown places if a map is given)."""
        if not self.task_id:
            raise TaskError("task_id must not be empty", field="task_id")
        if self.kind is TaskKind.DELIVER:
            if not self.pickup or not self.dropoff:
                missing = "pickup" if not self.pickup else "dropoff"
                raise TaskError("a deliver task needs pickup and dropoff", field=missing)
            if self.place is not None:
                raise TaskError("a deliver task takes pickup/dropoff, not place", field="place")
        else:
            if not self.place:
                raise TaskError(f"a {self.kind.value} task needs a place", field="place")
            if self.pickup is not None or self.dropoff is not None:
                raise TaskError(f"a {self.kind.value} task takes place, not pickup/dropoff", field="pickup")
            if self.payload_kg:
                raise TaskError(f"a {self.kind.value} task carries no payload", field="payload_kg")
        if not (math.isfinite(self.payload_kg) and 0.0 <= self.payload_kg <= 1000.0):
            raise TaskError("payload_kg must be within 0…1000 kg", field="payload_kg")
        if not 0 <= self.priority <= 10:
            raise TaskError("priority must be within 0…10", field="priority")
        if not math.isfinite(self.earliest_start):
            raise TaskError("earliest_start must be finite", field="earliest_start")
        if self.deadline is not None and not (math.isfinite(self.deadline) and self.deadline > self.earliest_start):
            raise TaskError("deadline must be after earliest_start", field="deadline")
        if site is not None:
            unknown = site.unknown(self.places())
            if unknown:
                raise TaskError(f"unknown place(s) on this site: {', '.join(unknown)}", field="places")
            dock = site.places[self.place] if self.kind is TaskKind.CHARGE and self.place is not None else None
            if dock is not None and dock.kind is not PlaceKind.DOCK:
                raise TaskError(f"place {self.place!r} is not a dock", field="place")


def euclidean(a: Point, b: Point) -> float:
    """Straight-line distance: the default distance function and an admissible lower bound of any path length."""
    return math.hypot(a[0] - b[0], a[1] - b[1])
