"""The live view never blocks its caller: a client that stops reading only loses (oldest) data.

In-process LiveView (no ROS), a real WebSocket client that subscribes and then never reads (tiny receive buffer),
and far more data logged than any socket buffer holds; a second client still gets fresh transforms.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from foxglove_client import FoxgloveClient
from websockets.sync.client import connect

from sigma_bridge.kinematics import RobotModel
from sigma_bridge.live_view import LiveView, geofences_from_yaml
from sigma_description import humanoid_urdf

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(120)
def test_stalled_client_never_blocks_logging(tmp_path):
    model = RobotModel.from_file(humanoid_urdf())
    view = LiveView("r1", model, port=0, backlog=16, geofences=[{"name": "dock", "points": [[0, 0], [1, 0], [1, 1]]}])
    try:
        sock = socket.create_connection(("127.0.0.1", view.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled = connect(f"ws://127.0.0.1:{view.port}", sock=sock, subprotocols=["foxglove.sdk.v1"])
        chan = {}
        while "/r1/tf" not in chan:
            msg = json.loads(stalled.recv(timeout=10))
            if msg.get("op") == "advertise":
                chan.update({c["topic"]: c["id"] for c in msg["channels"]})
        stalled.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 1, "channelId": chan["/r1/tf"]}]}))
        names = model.moving_joints
        for i in range(6000):  # ~15 MB of transforms: far beyond both socket buffers; a blocking send would hang
            view.joints({n: i * 1e-4 for n in names}, time.time_ns())
        fresh = FoxgloveClient(view.port)
        try:
            fresh.wait_for_channels(["/r1/tf"])
            fresh.subscribe(["/r1/tf"])
            view.humans("r1/base_link", [("h1", 2.0, 0.0, 0.9)], time.time_ns())
            got = None
            for _ in range(100):  # the server applies the subscription asynchronously: keep logging until it does
                view.joints({"left_knee": 1.0}, time.time_ns())
                try:
                    got = fresh.next_message(timeout=0.1)
                    break
                except TimeoutError:
                    continue
            assert got is not None and got[0] == "/r1/tf" and b"r1/left_shank" in got[2]
        finally:
            fresh.close()
        stalled.close()
    finally:
        view.close()


def test_geofences_from_the_safety_file_format():
    data = {"sites": {"lab": {"keep_in": {"floor": [[0, 0], [5, 0], [5, 5]]}, "keep_out": {"stairs": [[1, 1]]}}}}
    fences = geofences_from_yaml(data, "lab")
    assert [f["name"] for f in fences] == ["keep_in:floor", "keep_out:stairs"]
    assert fences[0]["points"][1] == [5, 0] and fences[0]["frame"] == "odom"
    assert geofences_from_yaml([{"name": "a", "points": [[0, 0]]}], "any")[0]["name"] == "a"
    assert geofences_from_yaml(None, "lab") == []
    with pytest.raises(ValueError, match="'warehouse' not in"):
        geofences_from_yaml(data, "warehouse")
    repo_file = REPO / "config" / "sigma_safety" / "geofence.yaml"
    if repo_file.is_file():
        import yaml

        assert geofences_from_yaml(yaml.safe_load(repo_file.read_text()), "warehouse")


@pytest.mark.timeout(60)
def test_the_view_wants_a_message_only_while_a_client_watches_what_it_feeds():
    model = RobotModel.from_file(humanoid_urdf())
    view = LiveView("r1", model, port=0)
    try:
        assert not any(view.wants(k) for k in ("joint_states", "odom", "humans", "actuator_health", "battery"))
        client = FoxgloveClient(view.port)
        try:
            client.wait_for_channels(["/r1/tf", "/r1/scene"])
            client.subscribe(["/r1/tf"])
            deadline = time.monotonic() + 10
            while not view.wants("joint_states") and time.monotonic() < deadline:
                time.sleep(0.02)  # the server applies a subscription asynchronously
            assert view.wants("joint_states") and view.wants("odom")
            assert not view.wants("humans") and not view.wants("actuator_health")
        finally:
            client.close()
        deadline = time.monotonic() + 10
        while view.wants("joint_states") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not view.wants("joint_states")
    finally:
        view.close()
