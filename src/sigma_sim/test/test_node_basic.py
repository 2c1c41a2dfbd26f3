"""sim_node as a real process: two robots publish under their namespaces and follow joint commands."""

from __future__ import annotations

import math

from sensor_msgs.msg import JointState

from sigma_sim.qos import RELIABLE_10, SENSOR


def test_two_robots_publish_and_track_joint_commands(launch, ros_probe):
    r1 = ros_probe.subscribe(JointState, "/r1/joint_states", SENSOR)
    r2 = ros_probe.subscribe(JointState, "/r2/joint_states", SENSOR)
    sim = launch("sigma_sim", "sim_node", params={"robots": ["r1", "r2"]})
    sim.wait_for_output("sigma_sim ready", timeout=30.0)
    first = r1.wait_for_count(5, timeout=20.0)[-1]
    r2.wait_for_count(5, timeout=20.0)
    assert "left_elbow" in first.name and len(first.name) >= 23
    assert len(first.position) == len(first.velocity) == len(first.effort) == len(first.name)

    cmd = ros_probe.publisher(JointState, "/r1/driver/joint_command", RELIABLE_10)
    ros_probe.wait_for_subscribers(cmd)
    i = list(first.name).index("left_elbow")

    def reached(msgs):
        cmd.publish(JointState(name=["left_elbow"], position=[-1.0]))
        return bool(msgs) and abs(msgs[-1].position[i] + 1.0) < 0.05

    r1.wait_for(reached, timeout=20.0)
    # robot r2 was not commanded: its elbow stays near zero
    assert abs(r2.latest().position[i]) < 0.05
    # out-of-limit and NaN targets are refused with a logged reason and never applied
    cmd.publish(JointState(name=["left_elbow"], position=[1.5]))
    cmd.publish(JointState(name=["left_elbow"], position=[math.nan]))
    sim.wait_for_output("outside limits", timeout=10.0)
    sim.wait_for_output("not finite", timeout=10.0)
    r1.clear()
    msgs = r1.wait_for_count(20, timeout=10.0)
    assert all(abs(m.position[i] + 1.0) < 0.05 for m in msgs)
    assert sim.alive
