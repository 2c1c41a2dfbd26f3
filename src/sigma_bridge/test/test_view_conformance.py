"""The live view as viewers see it: a client offering only ``foxglove.sdk.v1`` (what Foxglove and Lichtblick
releases with SDK-protocol support send), typed JSON channels, and the URDF for the 3D panel's URDF layer."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest
from jsonschema import Draft202012Validator
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import BatteryState
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sigma_bridge import mapping, view_schemas
from sigma_bridge.kinematics import RobotModel
from sigma_bridge.live_view import LiveView
from sigma_description import humanoid_urdf
from sigma_interfaces.msg import ActuatorHealth, SafetyFault, SafetyStatus

JSON_CHANNELS = {"/r1/safety/status": view_schemas.SAFETY_STATUS, "/r1/actuator_health": view_schemas.ACTUATOR_HEALTH,
                 "/r1/battery": view_schemas.BATTERY}


def _payloads() -> dict[str, dict]:
    status = SafetyStatus(level=2, authority=1, brake_engaged=False, sequence=7, speed_scale=0.0, torque_scale=1.0)
    status.active_faults = [SafetyFault(code=301, rule="human_proximity", source="h1", cause="person at 0.8 m",
                                        severity=1, value=0.8, limit=float("nan"))]
    battery = BatteryState(voltage=52.1, current=-3.2, charge=12.0, capacity=15.0, percentage=0.8,
                           temperature=float("nan"), power_supply_status=2, present=True)
    health = ActuatorHealth(name=["left_knee", "waist_yaw"], winding_temperature=[41.0, 30.5], current=[2.0, 0.4])
    view = LiveView.__new__(LiveView)  # only the payload shaping of actuator_health, no server
    captured: dict = {}
    view.health = type("Sink", (), {"log": lambda _s, p, log_time: captured.update(p)})()
    view.actuator_health(list(health.name), list(health.winding_temperature), list(health.current), 0)
    return {"/r1/safety/status": mapping.safety_status(status), "/r1/battery": mapping.battery(battery),
            "/r1/actuator_health": captured}


def test_json_schemas_are_valid_and_describe_what_the_bridge_sends():
    for topic, payload in _payloads().items():
        schema = JSON_CHANNELS[topic]
        Draft202012Validator.check_schema(schema)
        errors = list(Draft202012Validator(schema).iter_errors(payload))
        assert not errors, (topic, [e.message for e in errors])
    bad = dict(_payloads()["/r1/safety/status"], level="stop")
    assert list(Draft202012Validator(view_schemas.SAFETY_STATUS).iter_errors(bad))  # the schema can fail


def _recv_json(ws, op: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = ws.recv(timeout=timeout)
        if isinstance(frame, str) and json.loads(frame).get("op") == op:
            return json.loads(frame)
    raise TimeoutError(op)


@pytest.mark.timeout(60)
def test_sdk_v1_only_client_gets_typed_channels_and_the_prefixed_urdf():
    urdf_path = humanoid_urdf()
    model = RobotModel.from_file(urdf_path)
    view = LiveView("r1", model, port=0, backlog=64, urdf_xml=urdf_path.read_text())
    try:
        with connect(f"ws://127.0.0.1:{view.port}", subprotocols=["foxglove.sdk.v1"], open_timeout=10,
                     max_size=None) as ws:
            assert ws.subprotocol == "foxglove.sdk.v1"
            channels: dict[str, dict] = {}
            while not set(JSON_CHANNELS) | {"/r1/robot_description"} <= set(channels):
                channels.update({c["topic"]: c for c in _recv_json(ws, "advertise")["channels"]})
            for topic, schema in JSON_CHANNELS.items():
                ch = channels[topic]
                assert (ch["encoding"], ch["schemaEncoding"]) == ("json", "jsonschema")
                assert json.loads(ch["schema"]) == schema
            desc = channels["/r1/robot_description"]
            assert (desc["encoding"], desc["schemaName"], desc["schemaEncoding"]) == ("cdr", "std_msgs/msg/String",
                                                                                       "ros2msg")
            ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 1, "channelId": desc["id"]}]}))
            payload = None
            for _ in range(100):  # the subscription is applied asynchronously: keep logging until data arrives
                view.robot_model(time.time_ns())
                try:
                    frame = ws.recv(timeout=0.1)
                except TimeoutError:
                    continue
                if isinstance(frame, bytes) and frame[0] == 0x01:
                    payload = frame[13:]
                    break
            assert payload is not None
    finally:
        view.close()
    # An independent CDR decoder (rosbags) reads it as std_msgs/msg/String; the links carry the robot's prefix.
    text = get_typestore(Stores.ROS2_JAZZY).deserialize_cdr(bytes(payload), "std_msgs/msg/String").data
    links = [el.get("name") for el in ET.fromstring(text).findall("link")]
    assert len(links) == len(model.links) and all(n.startswith("r1/") for n in links)
    assert {j.find("child").get("link") for j in ET.fromstring(text).findall("joint")} <= set(links)


def test_a_client_without_the_sdk_subprotocol_is_refused():
    """What older Lichtblick / @foxglove/ws-protocol clients see (docs/bridge.md says which viewers connect)."""
    view = LiveView("r1", RobotModel.from_file(humanoid_urdf()), port=0)
    try:
        with pytest.raises(InvalidStatus) as exc:
            connect(f"ws://127.0.0.1:{view.port}", subprotocols=["foxglove.websocket.v1"], open_timeout=10)
        assert exc.value.response.status_code == 400
    finally:
        view.close()

