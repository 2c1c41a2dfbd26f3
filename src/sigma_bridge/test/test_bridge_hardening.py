"""Regression tests for the adversarial review (issue 18), bridge side, against the real cloud service.

Finding 4: a batch the cloud refuses for good (400: it cannot read it) used to be retried forever, blocking the
robot's queue behind it. Now the uploader isolates the event(s) at fault (a refused batch is stored nowhere, so it
is re-planned in halves) and moves only those aside: dead-lettered, counted, visible; everything else arrives.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from cloud_harness import cloud_in_tempdir

from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.store import EventStore, NewEvent
from sigma_bridge.uplink import UplinkClient, classify
from sigma_bridge.workers import Uploader


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-hardening-") as c:
        c.start()
        yield c


def joint(i: int) -> bytes:
    return orjson.dumps({"name": ["hip"], "position": [0.01 * i]})


def test_finding4_permanently_refused_event_is_dead_lettered_not_retried_forever(cloud, tmp_path):
    key = load_or_create_signing_key(tmp_path / "robot.key")
    cloud.register("r-dead", public_key_b64(key))
    store = EventStore(tmp_path / "uplink.db", capacity=1000)
    now = time.time()
    corrupt = b'{"name": ["\xff\xfe"], "position": [0.5]}'  # invalid UTF-8: the cloud can never read this batch
    events = [NewEvent("joint_states", now, joint(i)) for i in range(6)]
    events.insert(3, NewEvent("joint_states", now, corrupt))
    store.put_many(events, now)
    client = UplinkClient(cloud.url, "r-dead", key)
    uploader = Uploader(store, threading.Lock(), client, max_events=100, wake=threading.Event())
    uploader.backoff.next_delay = lambda hint=None: 0.0
    try:
        steps = 0
        while len(store) and steps < 40:
            uploader.step()
            steps += 1
    finally:
        client.close()
    assert len(store) == 0, f"queue still blocked after {steps} attempts: {uploader.last_error}"
    stats = store.stats()
    assert stats.dead_letter == 1 and stats.rejected == {"joint_states": 1} and stats.acked == {"joint_states": 6}
    [(_, channel, reason, payload)] = store.dead_letters()
    assert channel == "joint_states" and payload == corrupt and "malformed-batch" in reason
    assert uploader.dead_lettered == 1
    assert cloud.telemetry_counts("r-dead") == {"joint_states": (6, 6)}
    # What the bridge keeps retrying (credentials, outages) versus what it moves aside (refused for good).
    assert classify(400, b'{"type": "https://sigmaprompt.dev/problems/malformed-batch"}').kind == "refused"
    assert classify(422, b'{"type": "x/invalid-events", "errors": [{"index": 0, "seq": null}]}').kind == "refused"
    assert classify(401, b'{"type": "x/bad-signature"}').kind == "fatal"
    assert classify(503, b"").kind == "retry"
