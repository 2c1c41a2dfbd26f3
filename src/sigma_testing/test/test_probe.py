"""RosProbe: entities destroyed from the test's thread while its spin thread runs."""

from __future__ import annotations

import threading
import time

import pytest
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import String

from sigma_testing.domain import claim_domain
from sigma_testing.probe import RosProbe


def _churn(ros_probe, destroy, rounds: int) -> None:
    """Subscriptions made and destroyed on a busy topic while a publisher floods it (the race of a relay that dies
    in test_unheard_route)."""
    pub = ros_probe.publisher(String, "chatter", qos_profile_sensor_data)
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            pub.publish(String(data="x"))
            time.sleep(0.0005)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        for _ in range(rounds):
            subs = [ros_probe.node.create_subscription(String, "chatter", lambda _m: None, qos_profile_sensor_data)
                    for _ in range(4)]
            time.sleep(0.002)
            for sub in subs:
                destroy(sub)
    finally:
        stop.set()
        flooder.join()


def test_destroying_a_subscription_while_messages_arrive_keeps_the_probe_spinning(ros_probe):
    _churn(ros_probe, ros_probe.destroy, rounds=300)
    assert ros_probe._thread.is_alive(), "the spin thread died"
    after = ros_probe.subscribe(String, "chatter2", 10)
    pub = ros_probe.publisher(String, "chatter2", 10)
    ros_probe.wait_for_subscribers(pub, 1)
    pub.publish(String(data="still here"))
    assert after.wait_for_count(1, timeout=5.0)[0].data == "still here"


def test_destroy_refuses_what_is_not_the_probes():
    with claim_domain() as domain:
        a, b = RosProbe(domain, "probe_a"), RosProbe(domain, "probe_b")
        try:
            sub = a.node.create_subscription(String, "x", lambda _m: None, 10)
            with pytest.raises(ValueError, match="probe_b"):
                b.destroy(sub)
            a.destroy(sub)
        finally:
            a.close()
            b.close()
