"""The bridge's own records on /rosout, and one trace id on both sides of a request (docs/logs.md).

- The bridge's worker threads log through Python's `logging`; `forward_to_rosout` hands their INFO+ records to the
  node's rclpy logger, so they reach /rosout with the node's logger name and severity (and from there the cloud),
  while the log uplink's own trouble never does (it would come back to it).
- A decision the robot receives is logged (and so shipped) with the decision's trace id: the trace of the robot's
  batch it was decided on.
- A telemetry batch the real cloud (`sigma-cloud serve`, embedded PostgreSQL) refuses: the uploader's record of the
  refusal names the request's traceparent; on /rosout it becomes a record with that trace id, and the cloud process
  stored its own record of the same request (service_logs) under the same trace id.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from cloud_harness import cloud_in_tempdir, wait_until
from rcl_interfaces.msg import Log

from sigma_bridge.downlink import DecisionFilter
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.log_uplink import RosoutForwarder, forward_to_rosout, to_record
from sigma_bridge.store import EventStore, NewEvent, StoredEvent
from sigma_bridge.uplink import UplinkClient
from sigma_bridge.workers import DownlinkPoller, Uploader
from sigma_protocol import logs as wire


@pytest.fixture
def forwarded(ros_probe):
    forwarder = forward_to_rosout(ros_probe.node)
    rosout = ros_probe.subscribe(Log, "/rosout", 100)
    yield ros_probe, rosout
    logging.getLogger("sigma_bridge").removeHandler(forwarder)


def _mine(msgs: list, text: str) -> list:
    return [m for m in msgs if text in m.msg]


def test_worker_records_reach_rosout_but_never_the_log_uplinks_own(forwarded) -> None:
    probe, rosout = forwarded
    name = probe.node.get_logger().name
    # one forwarder per process: a second node's call replaces the first's
    assert sum(isinstance(h, RosoutForwarder) for h in logging.getLogger("sigma_bridge").handlers) == 1

    def work() -> None:  # a worker thread, as the uplink's
        logging.getLogger("sigma_bridge.logs").error("log uplink trouble %d", 1)
        logging.getLogger("sigma_bridge").debug("below INFO: not forwarded")
        logging.getLogger("sigma_bridge.recordings").info("recording %s uploaded", "bb.mcap")
        logging.getLogger("sigma_bridge").error("cloud refused %d event(s) traceparent=00-%s-%s-01", 1, "ab" * 16,
                                                "cd" * 8)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    msgs = rosout.wait_for(lambda ms: bool(_mine(ms, "cloud refused")), timeout=30)
    (info,) = _mine(msgs, "recording bb.mcap uploaded")
    (error,) = _mine(msgs, "cloud refused")
    assert (info.level, error.level) == (20, 40) and info.name == error.name == name
    assert info.msg.endswith("[sigma_bridge.recordings]")
    assert _mine(msgs, "log uplink trouble") == [] and _mine(msgs, "below INFO") == []  # logged before the last
    rec = to_record(error, name)
    assert rec is not None and rec["trace_id"] == "ab" * 16 and rec["severity"] == 40


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-logtrace-") as c:
        c.start()
        yield c


def test_a_refused_batch_has_one_trace_id_on_the_robot_and_in_the_cloud(cloud, forwarded, tmp_path) -> None:
    _, rosout = forwarded
    key = load_or_create_signing_key(tmp_path / "robot.key")
    cloud.register("r-trace", public_key_b64(key))
    store = EventStore(tmp_path / "uplink.db", capacity=100)
    store.put_many([NewEvent("joint_states", time.time(), b'{"name": ["\xff\xfe"], "position": [0.5]}')],
                   time.time())  # invalid UTF-8: the cloud can never read it
    client = UplinkClient(cloud.url, "r-trace", key)
    uploader = Uploader(store, threading.Lock(), client, max_events=100, wake=threading.Event())
    try:
        thread = threading.Thread(target=uploader.step)
        thread.start()
        thread.join(60)
    finally:
        client.close()
    assert uploader.dead_lettered == 1 and "traceparent=00-" in uploader.last_error
    msgs = rosout.wait_for(lambda ms: bool(_mine(ms, "moved to the store's dead letters")), timeout=30)
    (msg,) = _mine(msgs, "moved to the store's dead letters")
    trace_id = wire.find_trace_id(msg.msg)
    assert trace_id and msg.level == 40
    rows = wait_until(lambda: cloud.query("SELECT service, robot_id, severity, extra->>'status' FROM service_logs "
                                          "WHERE trace_id = %s", trace_id), 60, "the cloud's record of the request")
    assert rows == [("api", "r-trace", 20, "400")]


def test_a_received_decision_is_logged_with_its_trace_id(cloud, forwarded, tmp_path) -> None:
    _, rosout = forwarded
    key = load_or_create_signing_key(tmp_path / "robot.key")
    cloud.register("r-dec", public_key_b64(key))
    client = UplinkClient(cloud.url, "r-dec", key)
    try:
        now = time.time()
        event = StoredEvent(1, 1, now, "joint_states", 0, now, b'{"name": ["hip"], "position": [0.1]}')
        sent = client.send_batch([event], now)
        assert sent.kind == "acked", sent.detail
        decision_id = cloud.decide("r-dec", "inspect", 60)  # joins the trace of the robot's newest batch
        ((trace,),) = cloud.query("SELECT traceparent FROM decisions WHERE decision_id = %s", decision_id)
        assert trace
        relayed: list = []
        poller = DownlinkPoller(client, DecisionFilter("r-dec"), relayed.append, wait_s=1.0)
        thread = threading.Thread(target=poller.poll_once)
        thread.start()
        thread.join(60)
    finally:
        client.close()
    assert [d.decision_id for d in relayed] == [decision_id]
    msgs = rosout.wait_for(lambda ms: bool(_mine(ms, f"decision {decision_id}")), timeout=30)
    (msg,) = _mine(msgs, f"decision {decision_id}")
    assert msg.level == 20 and "inspect: applied" in msg.msg
    assert wire.find_trace_id(msg.msg) == trace.split("-")[1]
