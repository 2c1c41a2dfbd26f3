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
                       "step": "navigate:pickup", "progress": 0.25, "reason": "", "distance_remaining": 12.5}
    assert channels.validate_payload("task_status", payload) == []
    assert "task_status" in mapping.CHANNELS and mapping.MAPPERS["task_status"] is mapping.task_status


def test_nan_distance_is_left_out_and_final_states_carry_the_reason():
    payload = mapping.task_status(status(state=TaskStatus.STATE_FAILED, distance_remaining=math.nan,
                                         reason="no path to shelf_0_0", progress=math.nan))
    assert "distance_remaining" not in payload and payload["progress"] == 0.0
    assert payload["reason"] == "no path to shelf_0_0" and payload["state"] == 4
    assert channels.validate_payload("task_status", payload) == []
