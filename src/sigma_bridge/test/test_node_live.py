"""The bridge node as a real process (no cloud): Foxglove live view over a real WebSocket, the black box MCAP
around a safety event, and the safety event durably queued with its recording reference."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path

from foxglove_client import FoxgloveClient
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState

from sigma_description import humanoid_urdf
from sigma_interfaces.msg import SafetyEvent, SafetyFault, SafetyStatus
from sigma_ros_common import qos


def bridge_params(tmp_path: Path, **extra) -> dict:
    return {
        "cloud_url": "",
        "foxglove_port": 0,
        "urdf_path": str(humanoid_urdf()),
        "key_file": str(tmp_path / "var" / "robot.key"),
        "store_path": str(tmp_path / "var" / "uplink.db"),
        "recordings_dir": str(tmp_path / "var" / "recordings"),
        "blackbox_pre_s": 1.5,
        "blackbox_post_s": 0.5,
        "stats_period_s": 0.2,
        **extra,
    }


def start_bridge(launch, tmp_path: Path, **extra):
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1", params=bridge_params(tmp_path, **extra))
    proc.wait_for_output("sigma_bridge ready", timeout=30)
    port = int(re.search(r"foxglove_port=(\d+)", proc.output()).group(1))
    return proc, port


class JointStreamer:
    """Publishes joint states at ~50 Hz from a thread, the knee angle counting up."""

    def __init__(self, probe) -> None:
        self.pub = probe.publisher(JointState, "/r1/joint_states", qos.SENSOR)
        self.count = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += 1
            self.pub.publish(JointState(name=["left_knee", "waist_yaw"], position=[self.count * 0.001, 0.1]))
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def test_foxglove_client_receives_transforms_and_safety_state(launch, ros_probe, tmp_path):
    proc, port = start_bridge(launch, tmp_path)
    status_pub = ros_probe.publisher(SafetyStatus, "/r1/safety/status", qos.LATCHED)
    client = FoxgloveClient(port)
    try:
        client.wait_for_channels(["/r1/tf", "/r1/safety/status", "/r1/robot_model", "/r1/robot_description"])
        assert client.channels["/r1/robot_description"]["schemaName"] == "std_msgs/msg/String"  # the URDF
        assert client.channels["/r1/tf"]["schemaName"] == "foxglove.FrameTransforms"
        client.subscribe(["/r1/tf", "/r1/safety/status"])
        with JointStreamer(ros_probe) as js:
            ros_probe.wait_for_subscribers(js.pub)
            ros_probe.wait_for_subscribers(status_pub)
            status = SafetyStatus(level=2, authority=1, sequence=5,
                                  active_faults=[SafetyFault(code=9, rule="human_proximity")])
            got: dict[str, bytes] = {}
            deadline = time.monotonic() + 15
            while len(got) < 2 and time.monotonic() < deadline:
                if "/r1/safety/status" not in got:
                    status_pub.publish(status)  # the supervisor publishes at >= 10 Hz; so does this test
                try:
                    topic, _, payload = client.next_message(timeout=0.1)
                except TimeoutError:
                    continue
                got[topic] = payload
        # FrameTransforms (protobuf) with the URDF's link frames under the robot prefix.
        assert b"r1/left_shank" in got["/r1/tf"] and b"r1/torso" in got["/r1/tf"]
        status = json.loads(got["/r1/safety/status"])
        assert status["level"] == 2 and status["active_faults"][0]["rule"] == "human_proximity"
    finally:
        client.close()
    assert proc.stop() == 0


def test_safety_event_writes_mcap_window_and_queues_event_with_recording(launch, ros_probe, tmp_path):
    proc, _ = start_bridge(launch, tmp_path)
    events = ros_probe.publisher(SafetyEvent, "/r1/safety/events", qos.SAFETY_EVENTS)
    with JointStreamer(ros_probe) as js:
        ros_probe.wait_for_subscribers(js.pub)
        ros_probe.wait_for_subscribers(events)
        time.sleep(2.0)  # let the window fill with 1.5 s of history (data, not readiness)
        t_event = time.time_ns()
        # One incident: six events within a few milliseconds (as at start-up) give one recording, not six.
        for seq in range(3, 9):
            events.publish(SafetyEvent(sequence=seq, previous_level=0, level=3, cause="estop pressed"))
        proc.wait_for_output("black box: wrote", timeout=15)
    files = list((tmp_path / "var" / "recordings").glob("*.mcap"))
    assert len(files) == 1
    with open(files[0], "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        msgs = [(ch.topic, m.log_time, ros) for _, ch, m, ros in reader.iter_decoded_messages()]
    joints = [t for topic, t, _ in msgs if topic == "/r1/joint_states"]
    assert [ros.sequence for topic, _, ros in msgs if topic == "/r1/safety/events"] == [3, 4, 5, 6, 7, 8]
    assert min(joints) < t_event - 1.0e9 and max(joints) > t_event + 0.3e9  # the window around the event
    # 1.5 s before the first trigger to 0.5 s after the last (the six events may reach the bridge spread out under
    # load), plus one joint period (20 ms) at each edge.
    triggers = [t for topic, t, _ in msgs if topic == "/r1/safety/events"]
    assert max(joints) - min(joints) <= 2.0e9 + (max(triggers) - min(triggers)) + 0.04e9
    # An independent ros2-MCAP reader decodes every recorded message with its normal call.
    with AnyReader([files[0]]) as bag:
        decoded = [(c.topic, bag.deserialize(raw, c.msgtype)) for c, _, raw in bag.messages()]
        assert all(c.ext.offered_qos_profiles for c in bag.connections)
    assert len(decoded) == len(msgs)
    assert [m.sequence for t, m in decoded if t == "/r1/safety/events"] == [3, 4, 5, 6, 7, 8]
    assert proc.output().count("black box: wrote") == 1
    assert proc.stop() == 0
    # The safety event is durable in the store (no cloud here), referencing the recording.
    db = sqlite3.connect(tmp_path / "var" / "uplink.db")
    rows = db.execute("SELECT payload FROM events WHERE channel='safety_event'").fetchall()
    assert len(rows) == 6 and {json.loads(r[0])["recording"] for r in rows} == {str(files[0].resolve())}


def test_bad_parameter_is_refused_with_its_name(launch, tmp_path):
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1",
                  params=bridge_params(tmp_path, store_synchronous="SOMETIMES"))
    proc.popen.wait(timeout=30)
    assert proc.returncode == 2
    assert "parameter store_synchronous" in proc.output()
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1",
                  params=bridge_params(tmp_path, batch_max_events=20000))  # the protocol's limit is 10000
    proc.popen.wait(timeout=30)
    assert proc.returncode == 2
    assert "batch_max_events" in proc.output()
