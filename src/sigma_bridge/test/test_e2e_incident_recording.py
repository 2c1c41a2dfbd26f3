"""An incident is whole in the cloud: sim_node + safety_node + bridge_node + the cloud service + the cognition worker,
all real processes. An operator's emergency stop raises a safety event; the bridge writes the black-box MCAP around
it, uplinks the event and then uploads the file (signed chunks, after the live telemetry); the cognition worker makes
the event an incident; a fleet manager downloads `GET /v1/incidents/{id}/recording` and reads it with the `mcap`
reader and its ROS 2 decoder (not the bridge's writer); another site cannot see it. Then the uploader resumes an
interrupted upload where the cloud is (docs/cognition.md, "Incident recordings")."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cloud_harness import Cloud, wait_until
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from test_e2e_cloud import bridge, register

from sigma_bridge.blackbox import Record, write_mcap
from sigma_bridge.keys import load_or_create_signing_key
from sigma_bridge.recording_upload import UPLOADED, FileInfo, RecordingUploader, recording_path
from sigma_bridge.uplink import UplinkClient
from sigma_cloud.core.security import mint_token
from sigma_description import humanoid_urdf
from sigma_interfaces.srv import EmergencyStop
from sigma_ros_common.share import package_share

TOKEN = "bridge-e2e-reset-token-0123456789"


def token(cloud: Cloud, role: str, sites: list[str]) -> dict[str, str]:
    tok = mint_token(cloud.settings, cloud.runtime.jwt_secret, subject="e2e-person", role=role, sites=sites,
                     now=time.time())
    return {"Authorization": f"Bearer {tok}"}


def incident_with_recording(cloud: Cloud) -> dict | None:
    r = httpx.get(f"{cloud.url}/v1/incidents", params={"robot_id": "r1", "limit": 1000}, headers=cloud.headers())
    assert r.status_code == 200, r.text
    done = [i for i in r.json()["items"] if i["kind"] == "safety" and "recording e2e" in i["summary"]
            and i["has_recording"]]
    return done[0] if done else None


def test_emergency_stop_recording_reaches_the_cloud_and_opens_with_the_mcap_reader(launch, ros_probe, tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sigma-bridge-rec-"))
    root.chmod(0o755)
    cloud = Cloud(launch, root / "cloud")
    try:
        cloud.start()
        register(cloud, tmp_path)
        cloud.register("x1", "uJycDYbiUWgde7nNOZgtR/vuyxJoiVu+8r/sMTAK0rg=", site="site-x")  # another site's robot
        sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
        sim.wait_for_output("sigma_sim ready", timeout=60)
        launch("sigma_safety", "safety_node", namespace="/r1",
               params_files=[package_share("sigma_safety") / "config" / "safety.yaml"],
               params={"urdf_path": str(humanoid_urdf()), "latch_file": str(tmp_path / "safety" / "latched.json")},
               env={"SIGMA_SAFETY_RESET_TOKEN": TOKEN})
        bridge(launch, tmp_path, cloud.url, blackbox_pre_s=2.0, blackbox_post_s=0.5)
        wait_until(lambda: cloud.telemetry_counts("r1").get("joint_states", (0, 0))[0] > 150, 90, "3 s of history")
        env = {"SIGMA_DATA_DIR": str(cloud.data_dir), "SIGMA_ENVIRONMENT": "test"}
        worker = launch.command([sys.executable, "-m", "sigma_cloud.cli", "cognition", "--poll-s", "0.2"],
                                label="cognition", env=env)
        # the worker gives each robot heard from a cursor at its current head (within a second of starting)
        wait_until(lambda: cloud.query("SELECT 1 FROM cognition_cursor WHERE robot_id = 'r1'"), 60, "r1's cursor")
        res = ros_probe.call(EmergencyStop, "/r1/safety/emergency_stop",
                             EmergencyStop.Request(reason="recording e2e", requester="test-operator"), timeout=30)
        assert res.accepted, res.message

        incident = wait_until(lambda: incident_with_recording(cloud), 120, "the incident with its uploaded recording")
        assert worker.alive
        url = f"{cloud.url}/v1/incidents/{incident['incident_id']}/recording"
        manager = token(cloud, "site_manager", ["site-a"])
        got = httpx.get(url, headers=manager, timeout=30)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/octet-stream"
        name = got.headers["content-disposition"].split('filename="', 1)[1].rstrip('"')
        robot_file = tmp_path / "var" / "recordings" / name
        assert got.content == robot_file.read_bytes()  # byte for byte what the robot recorded
        assert robot_file.with_name(robot_file.name + UPLOADED).exists()
        reader = make_reader(io.BytesIO(got.content), decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        msgs = [(ch.topic, m.log_time, ros) for _, ch, m, ros in reader.iter_decoded_messages()]
        assert {"/r1/joint_states", "/r1/imu", "/r1/safety/events"} <= {t for t, _, _ in msgs}
        (t_event,) = [t for topic, t, ros in msgs if topic == "/r1/safety/events" and "recording e2e" in ros.cause]
        joints = [t for topic, t, _ in msgs if topic == "/r1/joint_states"]
        assert min(joints) < t_event - 1.0e9 and max(joints) > t_event + 0.2e9
        assert httpx.get(url, headers=token(cloud, "site_manager", ["site-x"])).status_code == 404  # RLS
        assert httpx.get(url).status_code == 401

        # An interrupted upload resumes where the cloud is: the first chunk went up, the "restarted" uploader
        # starts at 0, is told the cloud's offset and sends only the rest.
        path = tmp_path / "resume" / "r1_safety_99_1.mcap"
        write_mcap(path, [Record("/r1/joint_states", "sensor_msgs/msg/JointState", 1_000 + i,
                                 bytes(range(256)) * 8 + i.to_bytes(4, "little")) for i in range(200)])
        info = FileInfo.of(path)
        key = load_or_create_signing_key(tmp_path / "var" / "robot.key")
        client = UplinkClient(cloud.url, "r1", key)
        chunk = 4096
        first = client.request("PUT", recording_path("r1", info, 0), path.read_bytes()[:chunk],
                               time.time(), content_type="application/octet-stream")
        assert first.status_code == 200 and first.json()["received"] == chunk, first.text
        up = RecordingUploader(client, path.parent, lambda: False, rate=0.0, chunk_bytes=chunk)
        assert list(up.queue) == [path]  # found on start: not marked uploaded
        assert up.upload(path) == "uploaded"
        assert up.bytes_sent == info.size - chunk
        stored = cloud.query("SELECT location, size, sha256 FROM incident_recordings WHERE name = %s", path.name)
        assert stored and stored[0][1] == info.size and stored[0][2] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert Path(stored[0][0]).read_bytes() == path.read_bytes()
        client.close()
    finally:
        cloud.close()
        shutil.rmtree(root, ignore_errors=True)
