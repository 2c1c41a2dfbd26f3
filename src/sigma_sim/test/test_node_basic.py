"""sim_node as a real process (real time): robots publish under their namespaces and follow commands and brakes."""

from __future__ import annotations

import math

from geometry_msgs.msg import Twist, Vector3
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from sigma_ros_common.qos import LATCHED, RELIABLE_10, SENSOR


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
    # parameters are start-up only: a runtime change is refused with the reason
    req = SetParameters.Request(parameters=[Parameter("seed", value=3).to_parameter_msg()])
    res = ros_probe.call(SetParameters, "/sigma_sim/set_parameters", req)
    assert not res.results[0].successful and "start-up only" in res.results[0].reason
    assert sim.alive
    assert sim.stop() == 0  # Ctrl-C: clean shutdown


def test_cmd_vel_moves_the_base_and_the_brake_stops_it(launch, ros_probe):
    odom = ros_probe.subscribe(Odometry, "/r1/odom", SENSOR)
    sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
    start = odom.wait_for_count(3, timeout=30.0)[-1].pose.pose.position
    assert odom.latest().header.frame_id == "odom" and odom.latest().child_frame_id == "r1/base_link"
    vel = ros_probe.publisher(Twist, "/r1/driver/cmd_vel", RELIABLE_10)
    ros_probe.wait_for_subscribers(vel)

    def moved(msgs):
        vel.publish(Twist(linear=Vector3(x=0.5)))
        return msgs[-1].pose.pose.position.x > start.x + 0.3

    odom.wait_for(moved, timeout=20.0)
    assert abs(odom.latest().twist.twist.linear.x - 0.5) < 0.05
    brake = ros_probe.publisher(Bool, "/r1/driver/brake", LATCHED)
    brake.publish(Bool(data=True))
    sim.wait_for_output("/r1: brake engaged", timeout=10.0)
    vel.publish(Twist(linear=Vector3(x=0.5)))  # ignored while braked
    odom.clear()
    # odometry carries white noise (std 0.01 m/s, see sigma_sim.noise): "stopped" is within 5 standard deviations
    stopped = odom.wait_for(lambda m: len(m) >= 20 and abs(m[-1].twist.twist.linear.x) < 0.05, timeout=10.0)
    assert abs(stopped[-1].twist.twist.linear.x) < 0.05
    cmd = ros_probe.publisher(JointState, "/r1/driver/joint_command", RELIABLE_10)
    ros_probe.wait_for_subscribers(cmd)
    cmd.publish(JointState(name=["left_elbow"], position=[-1.0]))
    sim.wait_for_output("/r1/driver/joint_command: ignored while the brake is engaged", timeout=10.0)
