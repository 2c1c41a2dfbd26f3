"""End to end with real processes: sim_node -> bridge_node -> sigma_cloud (embedded PostgreSQL).

Exactness: what the bridge durably enqueued (minus what it dropped by policy, counted) is what the database holds,
per channel, with no duplicate seq, across a cloud outage and `kill -9` of the bridge.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from cloud_harness import Cloud, cloud_in_tempdir, free_port, sent, store_counters, store_inflight, wait_until
from sensor_msgs.msg import JointState

import sigma_protocol as protocol
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_description import humanoid_urdf
from sigma_interfaces.msg import CognitionDecision, SafetyEvent
from sigma_ros_common import qos

# The issue asks for a 60 s cloud outage; SIGMA_BRIDGE_E2E_OUTAGE_S shortens it for quick local iterations.
OUTAGE_S = float(os.environ.get("SIGMA_BRIDGE_E2E_OUTAGE_S", "60"))
RATES = {"rates.joint_states": 50.0, "rates.imu": 50.0, "rates.odom": 25.0, "rates.actuator_health": 0.0,
         "rates.battery": 0.0}


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-e2e-") as c:
        yield c


def bridge(launch, tmp_path: Path, cloud_url: str, **extra):
    params = {
        "cloud_url": cloud_url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
        "key_file": str(tmp_path / "var" / "robot.key"), "store_path": str(tmp_path / "var" / "uplink.db"),
        "recordings_dir": str(tmp_path / "var" / "recordings"), "downlink_wait_s": 2.0, "blackbox_post_s": 0.2,
        "model_dir": str(tmp_path / "var" / "model"),
        **RATES, **extra,
    }
    proc = launch("sigma_bridge", "bridge_node", namespace="/r1", params=params, name="sigma_bridge")
    proc.wait_for_output("sigma_bridge ready", timeout=30)
    return proc


def register(cloud: Cloud, tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "var" / "robot.key")
    cloud.register("r1", public_key_b64(key))


def sim(launch):
    proc = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
    return proc


def subscriber_gids(probe, topic: str) -> set[bytes]:
    return {bytes(i.endpoint_gid) for i in probe.node.get_subscriptions_info_by_topic(topic)}


def wait_for_new_subscriber(probe, topic: str, known: set[bytes]) -> None:
    """After a restart: wait until a subscription not in ``known`` is in the graph (a killed process's endpoints
    linger until their DDS lease expires, so a plain subscriber count can be satisfied by the dead one)."""
    wait_until(lambda: subscriber_gids(probe, topic) - known, 30, f"a new subscriber on {topic}", period=0.02)
    time.sleep(0.2)  # matching follows discovery of the endpoint within the same participant; give it a beat


def assert_exact(cloud: Cloud, db: Path, timeout: float = 60) -> dict[str, int]:
    """Wait until the bridge's store is empty, then compare per channel with the database."""
    wait_until(lambda: store_counters(db).get("pending", {}).get("all", 1) == 0, timeout, "bridge store drained")
    counters = store_counters(db)
    expected = {ch: n for ch, n in sent(counters).items() if n}
    stored = cloud.telemetry_counts("r1")
    dup_seqs = cloud.query("SELECT seq, count(*) FROM telemetry WHERE robot_id='r1' GROUP BY seq HAVING count(*) > 1")
    assert dup_seqs == [], f"the same seq stored twice: {dup_seqs[:5]}"
    dup_events = cloud.query("SELECT channel, ts, array_agg(seq) FROM telemetry WHERE robot_id='r1' "
                             "GROUP BY channel, ts, payload HAVING count(*) > 1")
    assert dup_events == [], f"the same event stored under two seqs: {dup_events[:5]}"
    assert {ch: rows for ch, (rows, _) in stored.items()} == expected
    assert counters.get("acked", {}) == {ch: n for ch, n in expected.items()}
    return expected


def test_sim_to_cloud_exact_counts_and_decisions(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    register(cloud, tmp_path)
    stale = cloud.decide("r1", "hold", ttl_s=0.3)
    deadline = datetime.fromisoformat(cloud.decision(stale)["deadline"]).timestamp()
    wait_until(lambda: time.time() > deadline + 0.1, 5, "stale decision past its deadline")
    decisions = ros_probe.subscribe(CognitionDecision, "/r1/cognition/decisions", qos.DECISIONS)
    s = sim(launch)
    b = bridge(launch, tmp_path, cloud.url)
    db = tmp_path / "var" / "uplink.db"
    wait_until(lambda: sum(cloud.telemetry_counts("r1").get(ch, (0, 0))[0] for ch in ("joint_states", "imu")) > 200,
               60, "telemetry in the database")
    fresh = cloud.decide("r1", "dock", ttl_s=60, station="d3")
    try:
        got = decisions.wait_for(lambda ms: any(m.decision_id == fresh for m in ms), timeout=30)
    except TimeoutError as exc:  # say which side lost it: the cloud's record shows whether the bridge fetched it
        raise AssertionError(f"decision never reached the graph; cloud record: {cloud.decision(fresh)}") from exc
    d = next(m for m in got if m.decision_id == fresh)
    assert d.action == "dock" and [(kv.key, kv.value) for kv in d.parameters] == [("station", "d3")]
    assert d.deadline.sec > time.time()
    assert all(m.decision_id != stale for m in got)  # the expired decision never reaches the robot
    wait_until(lambda: cloud.decision(fresh)["status"] == "applied", 10, "decision acknowledged")
    assert s.stop() == 0
    expected = assert_exact(cloud, db)
    assert {"joint_states", "imu", "odom", "actuator_health", "battery"} <= set(expected)
    assert b.stop() == 0


def test_the_downlink_follows_decision_url(launch, ros_probe, cloud, tmp_path):
    """`decision_url` (docs/deploy.md "The decision path"): the long poll and its ack go there, not to `cloud_url`
    (here a port nothing listens on), and the decision reaches the robot's graph."""
    cloud.start()
    register(cloud, tmp_path)
    decisions = ros_probe.subscribe(CognitionDecision, "/r1/cognition/decisions", qos.DECISIONS)
    b = bridge(launch, tmp_path, f"http://127.0.0.1:{free_port()}", decision_url=cloud.url)
    # the decisions topic is volatile: a decision the bridge publishes before discovery has matched the probe's
    # reader is not kept for it (CI saw the bridge apply one 0.1 s after it started, with the probe still unmatched)
    ros_probe.wait_for_publishers("/r1/cognition/decisions", 1, timeout=30)
    time.sleep(0.5)  # the writer's side of the match follows the reader's within milliseconds on one host
    fresh = cloud.decide("r1", "dock", ttl_s=60, station="d3")
    decisions.wait_for(lambda ms: any(m.decision_id == fresh for m in ms), timeout=30)
    wait_until(lambda: cloud.decision(fresh)["status"] == "applied", 10, "decision acknowledged")
    assert f"decisions={cloud.url}" in b.output()
    assert b.stop() == 0


def test_safety_events_published_before_the_bridge_started_all_reach_the_cloud(launch, ros_probe, cloud, tmp_path):
    """safety/events is transient local: a bridge started late (or restarted) gets the supervisor's history. Found in
    the main command (round 11): a bridge whose reader took messages before activation dropped that history."""
    cloud.start()
    register(cloud, tmp_path)
    pub = ros_probe.publisher(SafetyEvent, "/r1/safety/events", qos.SAFETY_EVENTS)
    t0 = time.time()
    for k in range(1, 31):
        ev = SafetyEvent(sequence=k, level=k % 3, previous_level=(k - 1) % 3, cause=f"event {k} before the bridge")
        ev.header.stamp.sec, ev.header.stamp.nanosec = int(t0), k * 1000
        pub.publish(ev)
    b = bridge(launch, tmp_path, cloud.url)
    wait_until(lambda: cloud.query("SELECT count(*) FROM safety_events WHERE robot_id='r1'")[0][0] >= 30, 60,
               "the 30 safety events in the database")
    seqs = [row[0] for row in cloud.query("SELECT (payload->>'sequence')::int FROM safety_events WHERE robot_id='r1' "
                                          "ORDER BY 1")]
    assert seqs == list(range(1, 31))
    assert b.stop() == 0


def test_outage_and_kill_9_lose_nothing_duplicate_nothing_safety_first(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    register(cloud, tmp_path)
    db = tmp_path / "var" / "uplink.db"
    events = ros_probe.publisher(SafetyEvent, "/r1/safety/events", qos.SAFETY_EVENTS)
    s = sim(launch)
    b = bridge(launch, tmp_path, cloud.url)
    wait_until(lambda: cloud.telemetry_counts("r1").get("joint_states", (0, 0))[0] > 100, 60, "streaming")
    known = subscriber_gids(ros_probe, "/r1/safety/events")
    # A deterministic kill point: hold the robot's ingest row lock, so the next batch is surely in flight (sent, the
    # cloud's write waiting on the lock) when the bridge is killed; released, the cloud commits a batch whose ack
    # the bridge never saw. The restarted bridge must resend it unchanged and the cloud count it as duplicates.
    with psycopg.connect(cloud.runtime.owner_url) as hold:
        hold.execute("SELECT 1 FROM robot_ingest_state WHERE robot_id = 'r1' FOR UPDATE")
        in_flight = wait_until(lambda: store_inflight(db) if cloud.query("SELECT count(*) FROM pg_locks WHERE NOT "
                                                                         "granted")[0][0] else [], 30,
                               "a batch in flight, its write waiting in the cloud")
        b.signal(signal.SIGKILL)  # kill -9 with that batch in flight
        b.popen.wait()
    assert store_inflight(db) == in_flight  # inherited by the next run, unacknowledged
    wait_until(lambda: cloud.query("SELECT count(*) FROM telemetry WHERE robot_id = 'r1' AND seq = ANY(%s)",
                                   in_flight)[0][0] == len(in_flight), 30, "the in-flight batch committed")
    b = bridge(launch, tmp_path, cloud.url)
    cloud.stop()  # outage
    t_down = time.time()
    wait_for_new_subscriber(ros_probe, "/r1/safety/events", known)
    for i in range(3):
        events.publish(SafetyEvent(sequence=100 + i, level=2, cause=f"outage test {i}"))
    wait_until(lambda: store_counters(db).get("enqueued", {}).get("safety_event", 0) >= 3, 20, "safety queued")
    wait_until(lambda: time.time() - t_down > OUTAGE_S / 2, OUTAGE_S, "half the outage")
    b.signal(signal.SIGKILL)  # kill -9 while buffering
    b.popen.wait()
    b = bridge(launch, tmp_path, cloud.url)
    wait_until(lambda: time.time() - t_down > OUTAGE_S, OUTAGE_S, "outage over")
    backlog = store_counters(db)["pending"]["all"]
    assert backlog > 500
    cloud.start()
    wait_until(lambda: store_counters(db)["pending"]["all"] < backlog / 2, 120, "draining while live data flows")
    assert s.stop() == 0  # quiesce, so that counts can be compared exactly
    expected = assert_exact(cloud, db, timeout=120)
    assert expected["safety_event"] == 3
    # The batch in flight at the first kill was stored once and left the store only when a resend was acknowledged
    # (as duplicates: the cloud already held every one of its seqs before the bridge restarted).
    assert store_inflight(db) == [] and cloud.query("SELECT count(*) FROM telemetry WHERE robot_id = 'r1' AND "
                                                    "seq = ANY(%s)", in_flight)[0][0] == len(in_flight)
    # Safety events raised during the outage went out before the outage's routine backlog.
    safety = protocol.CHANNEL_IDS["safety_event"]
    (safety_max,) = cloud.query("SELECT max(seq) FROM telemetry WHERE robot_id='r1' AND channel=%s", safety)[0]
    (backlog_min,) = cloud.query("SELECT min(seq) FROM telemetry WHERE robot_id='r1' AND channel<>%s AND "
                                 "ts > to_timestamp(%s)", safety, t_down + 1.0)[0]
    assert safety_max < backlog_min
    assert b.stop() == 0


def test_overflow_drops_only_routine_telemetry_and_counts_it(launch, ros_probe, cloud, tmp_path):
    register_later = tmp_path / "var" / "robot.key"
    db = tmp_path / "var" / "uplink.db"
    b = bridge(launch, tmp_path, cloud.url, store_capacity=200, **{"rates.joint_states": 0.0})  # cloud not up
    js = ros_probe.publisher(JointState, "/r1/joint_states", qos.reliable(100))
    events = ros_probe.publisher(SafetyEvent, "/r1/safety/events", qos.SAFETY_EVENTS)
    ros_probe.wait_for_subscribers(js)
    ros_probe.wait_for_subscribers(events)
    for i in range(1000):
        js.publish(JointState(name=["left_knee"], position=[i * 1e-3]))
        if i % 200 == 0:
            events.publish(SafetyEvent(sequence=i, level=1, cause=f"overflow {i}"))
        time.sleep(0.002)
    wait_until(lambda: store_counters(db).get("enqueued", {}).get("safety_event", 0) == 5, 20, "safety enqueued")
    wait_until(lambda: store_counters(db).get("dropped", {}).get("joint_states", 0) > 0, 20, "overflow")
    counters = store_counters(db)
    assert "safety_event" not in counters["dropped"]
    cloud.start()
    cloud.register("r1", public_key_b64(load_or_create_signing_key(register_later)))
    expected = assert_exact(cloud, db)
    assert expected["safety_event"] == 5
    assert expected["joint_states"] <= 200
    assert b.stop() == 0
