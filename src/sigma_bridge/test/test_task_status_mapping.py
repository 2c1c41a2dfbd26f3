"""TaskStatus -> task_status payload: accepted by the device protocol's validator, NaN distance left out."""

import math

from sigma_bridge import mapping
from sigma_interfaces.msg import TaskStatus
from sigma_protocol import channels


def status(**kw) -> TaskStatus:
    msg = TaskStatus(task_id="7c9e6679-7425-40de-944b-e07fc1f90ae7", kind=1, state=TaskStatus.STATE_ACTIVE,
                     step="navigate:pickup", progress=0.25, distance_remaining=12.5, reason="")
    for key, value in kw.items():
        setattr(msg, key, value)
    return msg


def test_payload_is_valid_for_the_protocol():
    payload = mapping.task_status(status())
    assert payload == {"task_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "kind": 1, "state": 2,
                       "step": "navigate:pickup", "progress": 0.25, "reason": "", "distance_remaining": 12.5,
                       "term": 0}
    assert channels.validate_payload("task_status", payload) == []
    assert "task_status" in mapping.CHANNELS and mapping.MAPPERS["task_status"] is mapping.task_status


def test_the_leaders_term_reaches_the_cloud():
    """TaskStatus.term (the assignment's term, echoed by the executor): the cloud orders reports by it."""
    payload = mapping.task_status(status(term=7))
    assert payload["term"] == 7 and channels.validate_payload("task_status", payload) == []
    assert channels.validate_payload("task_status", {**payload, "term": -1}) != []


def test_nan_distance_is_left_out_and_final_states_carry_the_reason():
    payload = mapping.task_status(status(state=TaskStatus.STATE_FAILED, distance_remaining=math.nan,
                                         reason="no path to shelf_0_0", progress=math.nan))
    assert "distance_remaining" not in payload and payload["progress"] == 0.0
    assert payload["reason"] == "no path to shelf_0_0" and payload["state"] == 4
    assert channels.validate_payload("task_status", payload) == []


def test_bridge_node_queues_task_status_durably(launch, ros_probe, tmp_path):
    """The real bridge process subscribes to tasks/status (transient-local, like sigma_core's publisher) and queues
    every report for the cloud, none downsampled away."""
    import json
    import sqlite3
    import time

    from test_node_live import start_bridge

    from sigma_ros_common import qos

    proc, _ = start_bridge(launch, tmp_path)
    pub = ros_probe.publisher(TaskStatus, "/r1/tasks/status", qos.SAFETY_EVENTS)
    ros_probe.wait_for_subscribers(pub)
    for state in (TaskStatus.STATE_ACCEPTED, TaskStatus.STATE_ACTIVE, TaskStatus.STATE_SUCCEEDED):
        pub.publish(status(state=state))
    db_path = tmp_path / "var" / "uplink.db"
    deadline = time.monotonic() + 20.0
    rows: list = []
    while time.monotonic() < deadline and len(rows) < 3:
        if db_path.exists():
            with sqlite3.connect(db_path) as db:
                rows = db.execute("SELECT payload FROM events WHERE channel='task_status' ORDER BY seq").fetchall()
        time.sleep(0.2)
    assert [json.loads(r[0])["state"] for r in rows] == [0, 2, 3]
    assert proc.stop() == 0
