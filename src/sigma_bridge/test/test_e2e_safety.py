"""A real safety event end to end: sim_node + sigma_safety's safety_node + bridge_node + cloud.

An operator's emergency stop on the supervisor produces a SafetyEvent; the bridge writes the black-box window
around it as MCAP and uplinks the event, naming the file, into the cloud's safety-events table.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from cloud_harness import Cloud, wait_until
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from test_e2e_cloud import bridge, register

from sigma_description import humanoid_urdf
from sigma_interfaces.srv import EmergencyStop
from sigma_ros_common.share import package_share

TOKEN = "bridge-e2e-reset-token-0123456789"


def test_emergency_stop_is_recorded_and_uplinked_with_its_recording(launch, ros_probe, tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sigma-bridge-e2e-"))
    root.chmod(0o755)
    cloud = Cloud(launch, root / "cloud")
    try:
        cloud.start()
        register(cloud, tmp_path)
        sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
        sim.wait_for_output("sigma_sim ready", timeout=60)
        launch("sigma_safety", "safety_node", namespace="/r1",
               params_files=[package_share("sigma_safety") / "config" / "safety.yaml"],
               params={"urdf_path": str(humanoid_urdf()),
                       "latch_file": str(tmp_path / "safety" / "latched.json")},
               env={"SIGMA_SAFETY_RESET_TOKEN": TOKEN})
        bridge(launch, tmp_path, cloud.url, blackbox_pre_s=2.0, blackbox_post_s=0.5)
        wait_until(lambda: cloud.telemetry_counts("r1").get("safety_status", (0, 0))[0] > 0, 60,
                   "supervisor status in the cloud")
        # The black box needs its 2 s of history first: ~3 s of joint states at the 50 Hz uplink rate.
        wait_until(lambda: cloud.telemetry_counts("r1").get("joint_states", (0, 0))[0] > 150, 60, "3 s of history")
        res = ros_probe.call(EmergencyStop, "/r1/safety/emergency_stop",
                             EmergencyStop.Request(reason="bridge e2e", requester="test-operator"), timeout=30)
        assert res.accepted, res.message
        rows = wait_until(lambda: cloud.query("SELECT level, cause, payload FROM safety_events WHERE robot_id='r1' "
                                              "AND cause LIKE %s", "%bridge e2e%"), 60, "the e-stop event in the cloud")
        level, _cause, payload = rows[0]
        assert level == 3
        payload = payload if isinstance(payload, dict) else json.loads(payload)
        path = Path(payload["recording"])
        assert path.parent == (tmp_path / "var" / "recordings").resolve()
        wait_until(path.is_file, 30, f"the recording {path}")
        with open(path, "rb") as f:
            msgs = [(ch.topic, m.log_time, ros) for _, ch, m, ros in
                    make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages()]
        topics = {t for t, _, _ in msgs}
        assert {"/r1/joint_states", "/r1/imu", "/r1/safety/events", "/r1/safety/status"} <= topics
        (t_event,) = [t for topic, t, ros in msgs if topic == "/r1/safety/events" and "bridge e2e" in ros.cause]
        joints = [t for topic, t, _ in msgs if topic == "/r1/joint_states"]
        assert min(joints) < t_event - 1.0e9 and max(joints) > t_event + 0.2e9
    finally:
        cloud.close()
        shutil.rmtree(root, ignore_errors=True)
