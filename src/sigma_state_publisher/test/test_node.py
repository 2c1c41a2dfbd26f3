"""The state_publisher as a real process, read by plain rclpy subscribers like any tf2 consumer would."""

from __future__ import annotations

import numpy as np
from fk import URDF, compose, load, matrix
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

# `ros2 topic info -v /tf` on a real ROS 2 install (Jazzy and later; TFMessage is unchanged since 2019).
TF_MESSAGE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _edges(messages: list[TFMessage]) -> dict[str, tuple[str, np.ndarray]]:
    edges = {}
    for m in messages:
        for t in m.transforms:
            tr, r = t.transform.translation, t.transform.rotation
            edges[t.child_frame_id] = (t.header.frame_id, matrix((tr.x, tr.y, tr.z), (r.x, r.y, r.z, r.w)))
    return edges


def test_tf_and_robot_description_match_the_urdf_forward_kinematics(launch, ros_probe):
    proc = launch("sigma_state_publisher", "state_publisher", namespace="/r1",
                  params={"publish_frequency": 50.0})  # the default URDF: package://sigma_description/...
    proc.wait_for_output("state_publisher ready", timeout=30)
    description = ros_probe.subscribe(String, "/r1/robot_description", LATCHED)
    static = ros_probe.subscribe(TFMessage, "/tf_static", LATCHED)
    dynamic = ros_probe.subscribe(TFMessage, "/tf", 100)
    # Late joiners get the latched URDF and fixed joints, as from robot_state_publisher.
    assert description.wait_for_count(1, timeout=15)[0].data == URDF.read_text()
    static_msgs = static.wait_for_count(1, timeout=15)
    assert all(t.header.frame_id.startswith("r1/") for t in static_msgs[0].transforms)

    ref = load()
    cfg = {j.name: 0.5 * (j.limit.lower + j.limit.upper) + 0.1 for j in ref.robot.joints if j.type == "revolute"}
    js_pub = ros_probe.publisher(JointState, "/r1/joint_states", qos_profile_sensor_data)
    odom_pub = ros_probe.publisher(Odometry, "/r1/odom", qos_profile_sensor_data)
    ros_probe.wait_for_subscribers(js_pub)
    ros_probe.wait_for_subscribers(odom_pub)
    odom = Odometry()
    odom.header.frame_id, odom.child_frame_id = "odom", "r1/base_link"
    odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.position.z = 2.0, -1.0, 0.95
    odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = np.sin(0.4), np.cos(0.4)  # yaw 0.8 rad
    names = sorted(cfg)

    def complete(msgs: list[TFMessage]) -> bool:
        js_pub.publish(JointState(name=names, position=[cfg[n] for n in names]))
        odom_pub.publish(odom)
        children = {t.child_frame_id for m in msgs for t in m.transforms}
        return len(children) == len(cfg) + 1

    dynamic.wait_for(complete, timeout=20)
    edges = _edges(static_msgs + dynamic.messages)
    ref.update_cfg(cfg)
    odom_to_base = matrix((2.0, -1.0, 0.95), (0.0, 0.0, np.sin(0.4), np.cos(0.4)))
    for link in ref.robot.links:
        want = odom_to_base @ ref.get_transform(link.name, ref.base_link)
        got = compose(edges, "odom", "r1/" + link.name)
        np.testing.assert_allclose(got, want, atol=1e-9, err_msg=link.name)

    # The vendored tf2_msgs has the type hash of a real ROS 2 install, so tf2 consumers there match it.
    infos = ros_probe.node.get_publishers_info_by_topic("/tf")
    assert infos and {str(i.topic_type_hash) for i in infos} == {TF_MESSAGE_HASH}
    assert proc.stop() == 0


def test_bad_urdf_path_is_refused_by_name(launch):
    proc = launch("sigma_state_publisher", "state_publisher", namespace="/r1", params={"urdf_path": "/nope.urdf"})
    assert proc.popen.wait(timeout=30) == 2
    assert "refusing to start: parameter urdf_path: /nope.urdf does not exist" in proc.output()
