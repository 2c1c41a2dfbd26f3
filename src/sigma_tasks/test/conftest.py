"""Shared fixtures: the warehouse's places (docks from worlds/warehouse.yaml, shelves from warehouse.xml)."""

import pytest
from tasks_warehouse import WAREHOUSE

from sigma_tasks.model import SiteMap


@pytest.fixture
def site() -> SiteMap:
    return SiteMap.from_places(WAREHOUSE)
