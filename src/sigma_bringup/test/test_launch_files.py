"""The project's own launch files: resolved as ros2 launch would, and brought up for real by `sigma launch`."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yourdfpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from transforms3d.quaternions import quat2mat

from sigma_description import humanoid_urdf
from sigma_interfaces.msg import SafetyStatus
from sigma_launch.cli import find_pkg_share
from sigma_launch.loader import Loader
from sigma_ros_common.qos import LATCHED
from sigma_testing import executable

LAUNCH = Path(os.environ.get("SIGMA_ROOT", Path(__file__).resolve().parents[3])) / "launch"


def _params(node) -> dict:
    merged: dict = {}
    for entry in node.params:
        if isinstance(entry, dict):
            merged.update(entry)
    return merged


def test_fleet_file_resolves_one_world_and_three_namespaced_robots():
    nodes = Loader(find_pkg_share).load(
        LAUNCH / "fleet.launch.yaml", {"cloud_url": "http://cloud:9", "r2_foxglove_port": "0"}
    )
    assert [(n.namespace, n.executable) for n in nodes] == [
        ("/", "sim_node"),
        ("/r1", "safety_node"),
        ("/r1", "twin_node"),
        ("/r1", "core_node"),
        ("/r1", "state_publisher"),
        ("/r1", "bridge_node"),
        ("/r1", "swarm_node"),
        ("/r1", "fleet_tasks_node"),
        ("/r2", "safety_node"),
        ("/r2", "twin_node"),
        ("/r2", "core_node"),
        ("/r2", "state_publisher"),
        ("/r2", "bridge_node"),
        ("/r2", "swarm_node"),
        ("/r2", "fleet_tasks_node"),
        ("/r3", "safety_node"),
        ("/r3", "twin_node"),
        ("/r3", "core_node"),
        ("/r3", "state_publisher"),
        ("/r3", "bridge_node"),
        ("/r3", "swarm_node"),
        ("/r3", "fleet_tasks_node"),
    ]
    assert _params(nodes[0])["robots"] == ["r1", "r2", "r3"]
    bridges = {n.namespace: _params(n) for n in nodes if n.executable == "bridge_node"}
    assert {b["cloud_url"] for b in bridges.values()} == {"http://cloud:9"}  # an override reaches every include
    assert [bridges[f"/r{i}"]["foxglove_port"] for i in (1, 2, 3)] == [8765, 0, 8767]
    assert bridges["/r1"]["robot_id"] == "r1" and bridges["/r3"]["robot_id"] == "r3"  # no leak between groups
    for n in nodes:
        assert all(Path(p).is_file() for p in n.params if isinstance(p, str)), n.params


def test_robot_file_alone_starts_its_own_simulator():
    nodes = Loader(find_pkg_share).load(LAUNCH / "robot.launch.yaml", {"robot_id": "r9"})
    assert [(n.namespace, n.executable) for n in nodes] == [
        ("/", "sim_node"),
        ("/r9", "safety_node"),
        ("/r9", "twin_node"),
        ("/r9", "core_node"),
        ("/r9", "state_publisher"),
        ("/r9", "bridge_node"),
        ("/r9", "swarm_node"),
        ("/r9", "fleet_tasks_node"),
    ]
    assert _params(nodes[0])["robots"] == ["r9"]
    hardware = Loader(find_pkg_share).load(LAUNCH / "robot.launch.yaml", {"robot_id": "r9", "sim": "false"})
    assert [n.executable for n in hardware] == ["safety_node", "twin_node", "core_node", "state_publisher",
                                                "bridge_node", "swarm_node", "fleet_tasks_node"]


@pytest.mark.timeout(180)
def test_robot_launch_brings_up_a_working_robot_and_ctrl_c_stops_it(launch, ros_probe, tmp_path):
    status = ros_probe.subscribe(SafetyStatus, "/r9/safety/status", LATCHED)
    joints = ros_probe.subscribe(JointState, "/r9/joint_states", qos_profile_sensor_data)
    tf = ros_probe.subscribe(TFMessage, "/tf", 100)
    tf_static = ros_probe.subscribe(TFMessage, "/tf_static", LATCHED)
    description = ros_probe.subscribe(String, "/r9/robot_description", LATCHED)
    proc = launch.command(
        [
            executable("sigma_launch", "sigma"),
            "launch",
            str(LAUNCH / "robot.launch.yaml"),
            "robot_id:=r9",
            "cloud_url:=",
            "foxglove_port:=0",
            f"data_dir:={tmp_path}",
        ],
        label="sigma-launch",
    )
    joints.wait_for_count(10, timeout=90)  # the simulator publishes under the robot's namespace
    msgs = status.wait_for_count(1, timeout=60)  # the supervisor evaluates the simulator's data
    assert msgs[-1].header.stamp.sec > 0
    assert len(joints.latest().name) >= 23

    # tf as robot_state_publisher publishes it, read by plain subscribers, against an independent URDF FK (yourdfpy)
    # at the joint positions of the joint_states message each /tf message was computed from (same stamp).
    ref = yourdfpy.URDF.load(str(humanoid_urdf()), load_meshes=False)
    assert description.wait_for_count(1, timeout=30)[0].data == humanoid_urdf().read_text()
    moving = {j.name for j in ref.robot.joints if j.type != "fixed"}

    def matched(tf_msgs: list[TFMessage]) -> tuple[TFMessage, JointState] | None:
        by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec): m for m in list(joints.messages)}
        for m in reversed(tf_msgs):
            children = {t.child_frame_id for t in m.transforms}
            if {f"r9/{ref.joint_map[n].child}" for n in moving} <= children:
                js = by_stamp.get((m.transforms[0].header.stamp.sec, m.transforms[0].header.stamp.nanosec))
                if js is not None:
                    return m, js
        return None

    tf.wait_for(lambda msgs: matched(msgs) is not None, timeout=30)
    tf_msg, js = matched(tf.messages)
    edges = {}
    for t in [*tf_static.wait_for_count(1, timeout=30)[0].transforms, *tf_msg.transforms]:
        if t.header.frame_id.startswith("r9/"):
            tr, r = t.transform.translation, t.transform.rotation
            m = np.eye(4)
            m[:3, :3] = quat2mat([r.w, r.x, r.y, r.z])
            m[:3, 3] = (tr.x, tr.y, tr.z)
            edges[t.child_frame_id] = (t.header.frame_id, m)
    ref.update_cfg({n: q for n, q in zip(js.name, js.position, strict=True) if n in moving})
    for link in ref.robot.links:
        frame, got = f"r9/{link.name}", np.eye(4)
        while frame != f"r9/{ref.base_link}":
            parent, m = edges[frame]
            got, frame = m @ got, parent
        # 1e-6 (µm, µrad): the published transforms come from a joint_states sample a few ns of motion away from
        # the one read here (a clean-clone CI saw 4.4e-9); a wrong joint, axis or origin is off by far more
        np.testing.assert_allclose(got, ref.get_transform(link.name, ref.base_link), atol=1e-6, err_msg=link.name)

    # every node of the launch file is up (the robot works as a whole, not only the parts read above)
    expected = {("/", "sigma_sim")} | {("/r9", n) for n in ("safety_supervisor", "command_gate", "twin", "core",
                                                            "state_publisher", "bridge", "swarm", "fleet_tasks")}

    def missing() -> set[tuple[str, str]]:
        return expected - {(ns, name) for name, ns in ros_probe.node.get_node_names_and_namespaces()}

    deadline = time.monotonic() + 90
    while missing() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not missing(), f"nodes not in the graph: {sorted(missing())}"

    # Ctrl-C: every process ends cleanly and the log is quiet — no ERROR/FATAL, no per-message WARN while the
    # robot stands braked without an AI (the gate keeps sending hold commands the driver must ignore).
    joints.clear()
    joints.wait_for_count(100, timeout=120)  # ~1 s of the braked robot (more on a loaded host), as data, not a sleep
    proc.signal(signal.SIGINT)
    proc.popen.wait(timeout=60)
    out = proc.output()
    assert proc.returncode == 0, out[-4000:]
    bad = [line for line in out.splitlines() if re.search(r"\[(ERROR|FATAL)\]|Traceback", line)]
    assert not bad, "\n".join(bad[:20])
    assert out.count("rejected, not applied") == 0, out[-4000:]
    assert out.count("ignored while the brake is engaged") <= 1, out[-4000:]
