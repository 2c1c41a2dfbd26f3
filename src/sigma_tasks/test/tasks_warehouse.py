"""The warehouse's places (docks from worlds/warehouse.yaml, shelves from warehouse.xml) for sigma_tasks' tests. Its own
module (not conftest) so a test can import it by a name no other package's tests use."""

from sigma_tasks.model import Place, PlaceKind

WAREHOUSE = [
    Place("dock_1", PlaceKind.DOCK, -13.5, -8.5),
    Place("dock_2", PlaceKind.DOCK, -13.5, 8.5),
    Place("dock_3", PlaceKind.DOCK, 13.5, -8.5),
    *[Place(f"shelf_{r}_{c}", PlaceKind.SHELF, x, y)
      for r, y in enumerate((-6.0, -2.0, 2.0, 6.0)) for c, x in enumerate((-8.0, 0.0, 8.0))],
    Place("packing", PlaceKind.ZONE, 13.0, 0.0),
]
