"""TopicReader: its subscriptions are taken on its own thread (never by the node's executor), in order, with the
node's names; a callback that raises is counted and the others go on; stop joins the thread."""

from __future__ import annotations

import threading
import time

from std_msgs.msg import String

from sigma_ros_common.reader import TopicReader

pytest_plugins = ["sigma_testing.fixtures"]


def _until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_reader_takes_its_subscriptions_on_its_own_thread_and_survives_a_failing_callback(ros_probe):
    node = ros_probe.node  # spun by a SingleThreadedExecutor on the probe's thread
    reader = TopicReader(node, name="test-reader")
    got: list[str] = []
    threads: set[str] = set()

    def on_msg(msg: String) -> None:
        got.append(msg.data)
        threads.add(threading.current_thread().name)

    def bad(msg: String) -> None:
        raise ValueError(f"bad sample {msg.data}")

    sub = reader.subscribe(String, "reader_test", on_msg, 200)
    reader.subscribe(String, "reader_bad", bad, 200)
    assert sub.topic_name == f"{node.get_namespace().rstrip('/')}/reader_test"
    reader.start()
    pub = ros_probe.publisher(String, "reader_test", 200)
    bad_pub = ros_probe.publisher(String, "reader_bad", 200)
    assert _until(lambda: pub.get_subscription_count() >= 1 and bad_pub.get_subscription_count() >= 1)
    for i in range(100):
        bad_pub.publish(String(data=str(i)))
        pub.publish(String(data=str(i)))
    assert _until(lambda: len(got) == 100 and reader.errors == 100), (len(got), reader.errors)
    assert got == [str(i) for i in range(100)]
    assert threads == {"test-reader"}  # never the executor's thread
    assert reader.taken == 100
    reader.stop()
    assert not reader.running
    pub.publish(String(data="after stop"))
    time.sleep(0.3)
    assert got[-1] == "99"
