"""core_node reads odom serialized: the CDR path gives what the message path gives."""

from __future__ import annotations

import math
import random

import pytest
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message

from sigma_core import convert
from sigma_ros_common import cdr


def test_odometry_read_from_its_cdr_equals_the_message_values():
    rng = random.Random(5)
    for _ in range(200):
        m = Odometry()
        m.header.frame_id, m.child_frame_id = "odom", "r1/base_link"[: rng.randrange(0, 13)]
        yaw = rng.uniform(-math.pi, math.pi)
        p, q, t = m.pose.pose.position, m.pose.pose.orientation, m.twist.twist
        p.x, p.y, p.z = rng.uniform(-50, 50), rng.uniform(-50, 50), 0.0
        q.z, q.w = math.sin(yaw / 2), math.cos(yaw / 2)
        t.linear.x, t.angular.z = rng.uniform(-1, 1), rng.uniform(-2, 2)
        raw = serialize_message(m)
        assert convert.odom_values_raw(raw) == convert.odom_values(m)
        assert convert.odom_values_raw(raw)[2] == pytest.approx(yaw)
    with pytest.raises(cdr.CdrError, match="truncated"):
        convert.odom_values_raw(raw[:100])
