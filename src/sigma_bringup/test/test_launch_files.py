"""The project's own launch files: resolved as ros2 launch would, and brought up for real by `sigma launch`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState

from sigma_interfaces.msg import SafetyStatus
from sigma_launch.cli import find_pkg_share
from sigma_launch.loader import Loader
from sigma_safety.qos import LATCHED
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
        ("/r1", "state_publisher"),
        ("/r1", "bridge_node"),
        ("/r2", "safety_node"),
        ("/r2", "state_publisher"),
        ("/r2", "bridge_node"),
        ("/r3", "safety_node"),
        ("/r3", "state_publisher"),
        ("/r3", "bridge_node"),
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
        ("/r9", "state_publisher"),
        ("/r9", "bridge_node"),
    ]
    assert _params(nodes[0])["robots"] == ["r9"]
    hardware = Loader(find_pkg_share).load(LAUNCH / "robot.launch.yaml", {"robot_id": "r9", "sim": "false"})
    assert [n.executable for n in hardware] == ["safety_node", "state_publisher", "bridge_node"]


@pytest.mark.timeout(180)
def test_robot_launch_brings_up_a_working_robot_and_ctrl_c_stops_it(launch, ros_probe, tmp_path):
    status = ros_probe.subscribe(SafetyStatus, "/r9/safety/status", LATCHED)
    joints = ros_probe.subscribe(JointState, "/r9/joint_states", qos_profile_sensor_data)
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
    proc.signal(signal.SIGINT)
    proc.popen.wait(timeout=60)
    assert proc.returncode == 0, proc.output()[-4000:]
