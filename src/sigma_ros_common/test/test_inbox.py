"""Polled subscriptions (sigma_ros_common.inbox): what arrives waits in the reader until taken, no executor spins."""

from __future__ import annotations

import time

import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from std_msgs.msg import Int32

from sigma_ros_common.inbox import Inbox, take_all, take_newest

pytest_plugins = ["sigma_testing.fixtures"]

DEEP = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                  durability=DurabilityPolicy.VOLATILE)


def _wait_matched(pub, timeout=10.0):
    deadline = time.monotonic() + timeout
    while pub.get_subscription_count() < 1:
        assert time.monotonic() < deadline, "the inbox subscription never matched"
        time.sleep(0.02)


def test_take_all_in_order_take_newest_drops_the_rest_and_nothing_spins(ros_domain):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain.domain_id)
    try:
        owner = rclpy.create_node("owner", namespace="/r1", context=context)
        inbox = Inbox(owner)
        assert inbox.node.get_name() == "owner_inbox" and inbox.node.get_namespace() == "/r1"
        every = inbox.subscribe(Int32, "count", DEEP)
        raw = inbox.subscribe(Int32, "count", DEEP, raw=True)
        pub = owner.create_publisher(Int32, "/r1/count", DEEP)
        _wait_matched(pub)
        while pub.get_subscription_count() < 2:
            time.sleep(0.02)
        for k in range(10):
            pub.publish(Int32(data=k))
        deadline = time.monotonic() + 5.0
        got: list[int] = []
        while len(got) < 10 and time.monotonic() < deadline:
            got += [m.data for m in take_all(every)]
            time.sleep(0.02)
        assert got == list(range(10))                  # all of them, oldest first, without any executor
        assert take_all(every) == []                   # taken means gone
        time.sleep(0.2)
        newest = take_newest(raw)                      # serialized bytes; the nine before it are dropped
        assert isinstance(newest, bytes) and deserialize_message(newest, Int32).data == 9
        assert take_newest(raw) is None
        inbox.destroy()
        owner.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
