"""The demo's fleet-task stage: its places and the allocation judgement (pure)."""

from __future__ import annotations

from sigma_bringup.cloud_tasks import allocation, cloud_tasks, site_places

from sigma_ros_common.share import package_share


def test_the_sites_places_are_the_executors_and_hold_the_tasks_places():
    places = site_places(package_share("sigma_sim") / "worlds" / "warehouse.yaml")
    names = {p["name"] for p in places}
    assert {"shelf_0_0", "shelf_3_2", "dock_1"} <= names and len(names) == len(places)
    assert {p["kind"] for p in places} <= {"dock", "shelf", "zone", "waypoint"}
    for t in cloud_tasks("x"):
        assert t.body["place"] in names
    assert len({t.key for t in cloud_tasks("a")} | {t.key for t in cloud_tasks("b")}) == 4  # fresh keys per run


def test_allocation_needs_the_leader_of_that_term_and_the_same_robot_in_the_cloud():
    record = {"place": "shelf_1_2", "state": "in_progress", "robot_id": "r1"}
    good = allocation(record, {"r1": ("swarm:r2", 4)}, {4: "r2", 3: "r3"})
    assert good.ok and "swarm:r2 (term 4" in good.detail
    handed_over = allocation(record, {"r3": ("swarm:r2", 4), "r1": ("swarm:r3", 5)}, {4: "r2", 5: "r3"})
    assert handed_over.ok and "swarm:r3 (term 5" in handed_over.detail
    assert not allocation(record, {"r1": ("swarm:r3", 4)}, {4: "r2"}).ok        # not that term's leader
    assert not allocation(record, {"r1": ("swarm:r2", 5)}, {4: "r2"}).ok        # a term the cloud never heard of
    assert not allocation(record, {"r3": ("swarm:r2", 4)}, {4: "r2"}).ok        # the cloud names another robot
    missing = allocation(record, {}, {4: "r2"})
    assert not missing.ok and "no swarm Task" in missing.detail
