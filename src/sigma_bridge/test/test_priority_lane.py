"""The uplink's priority lane (issue 15, docs/device-protocol.md "Priority lane"): while a safety event waits, the
uploader cuts the next batch to `priority_max_events` (the safety events first) and signs it for the cloud's
priority ingest lane; everything else goes in bulk batches. One batch in flight, wire seqs in order, in both lanes:
the real cloud stores every event exactly once and its answer says the safety batch took the priority lane."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from cloud_harness import cloud_in_tempdir

import sigma_protocol as protocol
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.store import PRIORITY_SAFETY, EventStore, NewEvent
from sigma_bridge.uplink import Outcome, UplinkClient
from sigma_bridge.workers import Uploader

SAFETY = orjson.dumps({"sequence": 1, "previous_level": 0, "level": 2, "previous_authority": 0, "authority": 1,
                       "cause": "human within 0.4 m", "raised": [{"code": 3, "rule": "human_proximity", "value": 0.4}],
                       "cleared": [], "recording": ""})
BATTERY = orjson.dumps({"voltage": 48.0, "current": 3.2, "percentage": 0.8})


class ScriptedNetwork:
    """Stands in for UplinkClient: acks everything, records each batch's wire seqs and lane."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[int], bool]] = []

    def send_batch(self, events, now, priority=False):
        self.sent.append(([e.wire_seq for e in events], priority))
        return Outcome("acked", acked_through=events[-1].wire_seq)


def test_a_waiting_safety_event_goes_at_once_in_a_small_priority_batch(tmp_path) -> None:
    store = EventStore(tmp_path / "q.db", capacity=1000)
    net = ScriptedNetwork()
    up = Uploader(store, threading.Lock(), net, max_events=100, wake=threading.Event(), priority_max_events=4)
    store.put_many([NewEvent("battery", 1.0, BATTERY) for _ in range(10)], now=1.0)
    up.step()  # routine only: one bulk batch of everything
    store.put_many([NewEvent("battery", 2.0, BATTERY) for _ in range(10)], now=2.0)
    store.put_many([NewEvent("safety_event", 2.0, SAFETY, PRIORITY_SAFETY)], now=2.0)
    up.step()  # a safety event waits: 4 events (the safety event first), priority lane
    up.step()  # the rest: bulk
    assert [(len(seqs), lane) for seqs, lane in net.sent] == [(10, False), (4, True), (7, False)]
    seqs = [s for batch, _ in net.sent for s in batch]
    assert seqs == sorted(seqs) and len(set(seqs)) == 21  # one sequence space, in order, nothing twice
    assert len(store) == 0 and up.priority_batches == 1


def test_lane_off_sends_the_safety_event_in_the_usual_batch(tmp_path) -> None:
    store = EventStore(tmp_path / "q.db", capacity=1000)
    net = ScriptedNetwork()
    up = Uploader(store, threading.Lock(), net, max_events=100, wake=threading.Event())  # priority_max_events 0
    store.put_many([NewEvent("battery", 2.0, BATTERY) for _ in range(10)]
                   + [NewEvent("safety_event", 2.0, SAFETY, PRIORITY_SAFETY)], now=2.0)
    up.step()
    assert [(len(seqs), lane) for seqs, lane in net.sent] == [(11, False)]


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-priority-") as c:
        c.start()
        yield c


def registered_robot_with_a_waiting_safety_event(cloud, tmp_path, robot_id: str):
    """A robot registered at the cloud, and its store holding 20 battery events and then a safety event."""
    key = load_or_create_signing_key(tmp_path / "robot.key")
    cloud.register(robot_id, public_key_b64(key))
    store = EventStore(tmp_path / "uplink.db", capacity=1000)
    now = time.time()
    store.put_many([NewEvent("battery", now - 1 + 0.01 * i, BATTERY) for i in range(20)], now)
    store.put_many([NewEvent("safety_event", now, SAFETY, PRIORITY_SAFETY)], now)
    return key, store


def test_the_real_cloud_stores_the_safety_batch_in_its_priority_lane_exactly_once(cloud, tmp_path) -> None:
    key, store = registered_robot_with_a_waiting_safety_event(cloud, tmp_path, "r-prio")
    client = UplinkClient(cloud.url, "r-prio", key)
    lanes: list[tuple[str, str]] = []
    request = client.request

    def recording(method, path, body, now, **kw):  # the real request; its path and the lane that stored it noted
        r = request(method, path, body, now, **kw)
        lanes.append((path, r.headers.get(protocol.HEADER_LANE, "")))
        return r

    client.request = recording  # type: ignore[method-assign]
    uploader = Uploader(store, threading.Lock(), client, max_events=100, wake=threading.Event(),
                        priority_max_events=8)
    try:
        deadline = time.monotonic() + 60
        while len(store) and time.monotonic() < deadline:
            uploader.step()
    finally:
        client.close()
    assert lanes == [(protocol.INGEST_PRIORITY_PATH, "priority"), (protocol.INGEST_PATH, "bulk")]
    rows = cloud.query("SELECT seq, channel FROM telemetry WHERE robot_id = 'r-prio' ORDER BY seq")
    assert len(rows) == 21 and len({seq for seq, _ in rows}) == 21
    assert [c for _, c in rows].count(protocol.CHANNEL_IDS["safety_event"]) == 1


def test_with_a_decision_url_the_safety_batch_goes_to_the_decision_path_replica(cloud, tmp_path) -> None:
    """The bridge's `decision_url` (docs/deploy.md): priority-lane batches go to the decision path's replica (a
    second real `serve` process on the same database), bulk batches to `cloud_url`; one sequence space, stored once."""
    decisions_url = cloud.start_replica()
    key, store = registered_robot_with_a_waiting_safety_event(cloud, tmp_path, "r-dpath")
    sent: list[tuple[str, str, str]] = []
    clients = {url: UplinkClient(url, "r-dpath", key) for url in (cloud.url, decisions_url)}
    for url, client in clients.items():
        def recording(method, path, body, now, _request=client.request, _url=url, **kw):
            r = _request(method, path, body, now, **kw)
            sent.append((_url, path, r.headers.get(protocol.HEADER_LANE, "")))
            return r

        client.request = recording  # type: ignore[method-assign]
    uploader = Uploader(store, threading.Lock(), clients[cloud.url], max_events=100, wake=threading.Event(),
                        priority_max_events=8, priority_client=clients[decisions_url])
    try:
        deadline = time.monotonic() + 60
        while len(store) and time.monotonic() < deadline:
            uploader.step()
    finally:
        for client in clients.values():
            client.close()
    assert sent == [(decisions_url, protocol.INGEST_PRIORITY_PATH, "priority"),
                    (cloud.url, protocol.INGEST_PATH, "bulk")]
    rows = cloud.query("SELECT seq FROM telemetry WHERE robot_id = 'r-dpath' ORDER BY seq")
    assert [seq for seq, in rows] == sorted({seq for seq, in rows}) and len(rows) == 21


def test_the_cloud_urls_must_be_http_base_urls() -> None:
    from sigma_bridge.params import _url
    from sigma_ros_common.params import ConfigError

    assert _url("decision_url", "") == ""  # empty: the decision path is cloud_url
    assert _url("decision_url", "https://decisions.example:8443") == "https://decisions.example:8443"
    for bad in ("decisions.example", "ftp://decisions.example", "http://x/?lane=priority", "http://"):
        with pytest.raises(ConfigError, match="parameter decision_url"):
            _url("decision_url", bad)
