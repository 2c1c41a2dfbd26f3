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
    # Every sequence filled: rclpy's serialize_message over-sizes the buffer by the alignment of an empty double
    # sequence (trailing garbage bytes), which a strict CDR reader refuses; what the bridge records comes off the
    # wire (raw subscriptions) at its exact size.
    m = JointState(name=["left_knee"], position=[i * 0.01], velocity=[0.0], effort=[1.0])
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


def test_events_within_one_window_make_one_recording():
    bb = BlackBox(pre_s=2.0, post_s=1.0, max_bytes=10**6)
    for i in range(3):
        bb.add(Record("/r1/joint_states", "sensor_msgs/msg/JointState", i * S, js(i)))
    # six safety events within 1.6 ms at start-up: one incident, one file
    recs = [bb.trigger(2 * S + k * 320_000, f"ev{k}.mcap") for k in range(6)]
    assert all(r is recs[0] for r in recs) and recs[0].path == "ev0.mcap" and len(recs[0].triggers) == 6
    # a later event inside the post-window extends it; one past twice the post-window does not stretch it further
    assert bb.trigger(int(2.8 * S), "late.mcap") is recs[0]
    assert recs[0].due_ns == int(3.8 * S)
    assert bb.trigger(int(3.7 * S), "later.mcap") is recs[0] and recs[0].due_ns == 4 * S
    assert bb.due(int(3.9 * S)) == []
    (done,) = bb.due(4 * S)
    assert done is recs[0]
    # after it is written, a new event starts a new recording
    nxt = bb.trigger(int(4.5 * S), "next.mcap")
    assert nxt is not None and nxt.path == "next.mcap" and nxt.triggers == [int(4.5 * S)]


def test_mcap_follows_the_ros2_profile_for_an_independent_reader(tmp_path):
    """rosbags (not the writer's own library) opens the file with its normal call and decodes every message."""
    from rosbags.highlevel import AnyReader

    from sigma_bridge.blackbox import QosSpec

    ev = SafetyEvent(level=3, cause="e-stop")
    ev.raised = [SafetyFault(code=1, rule="estop", source="button")]
    ev.cleared = [SafetyFault(code=2, rule="thermal", source="left_knee")]
    records = [Record("/r1/joint_states", "sensor_msgs/msg/JointState", i * S, js(i)) for i in range(4)]
    records.append(Record("/r1/safety/events", "sigma_interfaces/msg/SafetyEvent", 5 * S, serialize_message(ev)))
    path = tmp_path / "event.mcap"
    qos = {"/r1/joint_states": QosSpec("best_effort", "volatile", 5),
           "/r1/safety/events": QosSpec("reliable", "transient_local", 100)}
    write_mcap(path, records, {"robot_id": "r1"}, qos=qos)
    with open(path, "rb") as f:
        reader = make_reader(f)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
    assert {s.name for s in summary.schemas.values()} == {"sensor_msgs/msg/JointState",
                                                          "sigma_interfaces/msg/SafetyEvent"}
    assert all("offered_qos_profiles" in c.metadata for c in summary.channels.values())
    with AnyReader([path]) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/r1/joint_states"].msgtype == "sensor_msgs/msg/JointState"
        (offered,) = conns["/r1/safety/events"].ext.offered_qos_profiles
        assert (offered.reliability.name, offered.durability.name, offered.depth) == ("RELIABLE", "TRANSIENT_LOCAL",
                                                                                      100)
        decoded = [(c.topic, reader.deserialize(raw, c.msgtype)) for c, _, raw in reader.messages()]
    assert len(decoded) == 5
    assert [m.position[0] for t, m in decoded if t == "/r1/joint_states"] == [0.0, 0.01, 0.02, 0.03]
    assert decoded[-1][1].level == 3 and decoded[-1][1].cause == "e-stop"
