"""Black box: the window around a trigger, bounded memory, and an MCAP file that mcap_ros2 decodes."""

from __future__ import annotations

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState

from sigma_bridge.blackbox import BlackBox, Record, write_mcap
from sigma_interfaces.msg import SafetyEvent, SafetyFault

S = 1_000_000_000


def js(i: int) -> bytes:
    m = JointState(name=["left_knee"], position=[i * 0.01])
    m.header.stamp.sec = i
    return serialize_message(m)


def test_window_around_trigger_and_bounds():
    bb = BlackBox(pre_s=2.0, post_s=1.0, max_bytes=10**6)
    for i in range(9):
        bb.add(Record("/r1/joint_states", "sensor_msgs/msg/JointState", i * S, js(i)))
    rec = bb.trigger(8 * S, "x.mcap")
    assert rec is not None and bb.due(8 * S) == []
    for i in range(9, 12):
        bb.add(Record("/r1/joint_states", "sensor_msgs/msg/JointState", i * S, js(i)))
    (done,) = bb.due(11 * S)
    assert [r.t_ns // S for r in done.records] == [6, 7, 8, 9]
    assert bb.due(12 * S) == []
    small = BlackBox(pre_s=100.0, post_s=0.0, max_bytes=3 * len(js(0)))
    for i in range(10):
        small.add(Record("/t", "sensor_msgs/msg/JointState", i * S, js(i)))
    assert small.size_bytes <= 3 * len(js(0)) and small.evicted == 7


def test_mcap_file_is_ros2_and_decodes(tmp_path):
    ev = SafetyEvent(level=3, cause="thermal: left_knee 95 degC > 90 degC")
    ev.raised = [SafetyFault(code=101, rule="thermal", source="left_knee", value=95.0, limit=90.0)]
    records = [Record("/r1/joint_states", "sensor_msgs/msg/JointState", i * S, js(i)) for i in range(5)]
    records.append(Record("/r1/safety/events", "sigma_interfaces/msg/SafetyEvent", 5 * S, serialize_message(ev)))
    path = tmp_path / "bb" / "event.mcap"
    assert write_mcap(path, records, {"robot_id": "r1"}) == 6
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
        assert summary.statistics.message_count == 6
        assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
    with open(path, "rb") as f:
        msgs = list(make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages())
    assert [channel.topic for _, channel, _, _ in msgs][-1] == "/r1/safety/events"
    assert msgs[2][3].position == [0.02]
    last = msgs[-1][3]
    assert last.level == 3 and last.raised[0].source == "left_knee" and last.raised[0].limit == 90.0
