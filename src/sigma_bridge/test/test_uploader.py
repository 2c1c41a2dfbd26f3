"""The uploader's resend rules against a scripted network (outcomes chosen per attempt; the store is real).

A batch whose delivery is ambiguous (timeout, reset: the cloud may have stored it) is only ever resent unchanged,
even when a later attempt is refused at connect; only a batch that certainly never left is re-planned.
"""

from __future__ import annotations

import threading

from sigma_bridge.store import PRIORITY_SAFETY, EventStore, NewEvent
from sigma_bridge.uplink import Outcome
from sigma_bridge.workers import Uploader


class ScriptedNetwork:
    """Stands in for UplinkClient: returns the scripted outcomes in order and records what was sent."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        self.sent: list[list[int]] = []

    def send_batch(self, events, now):
        self.sent.append([e.wire_seq for e in events])
        out = self.outcomes.pop(0)
        if out.kind == "acked":
            return Outcome("acked", acked_through=events[-1].wire_seq)
        return out


REFUSED = Outcome("retry", detail="refused", not_sent=True)
TIMEOUT = Outcome("retry", detail="read timeout", ambiguous=True)
ACK = Outcome("acked")


def uploader(tmp_path, outcomes):
    store = EventStore(tmp_path / "q.db", capacity=1000)
    store.put_many([NewEvent("imu", 1.0, b"{}") for _ in range(3)], now=1.0)
    net = ScriptedNetwork(outcomes)
    up = Uploader(store, threading.Lock(), net, max_events=100, wake=threading.Event())
    up.backoff.next_delay = lambda hint=None: 0.0
    return store, net, up


def test_refused_batch_is_replanned_safety_first(tmp_path):
    store, net, up = uploader(tmp_path, [REFUSED, ACK])
    up.step()
    store.put_many([NewEvent("safety_event", 2.0, b"{}", PRIORITY_SAFETY)], now=2.0)
    up.step()
    first, second = net.sent
    assert len(second) == 4 and second[0] > first[-1]  # new seqs, the safety event first
    assert len(store) == 0


def test_ambiguous_batch_is_never_replanned(tmp_path):
    store, net, up = uploader(tmp_path, [TIMEOUT, REFUSED, ACK])
    up.step()
    store.put_many([NewEvent("safety_event", 2.0, b"{}", PRIORITY_SAFETY)], now=2.0)
    up.step()
    up.step()
    assert net.sent[0] == net.sent[1] == net.sent[2]  # same seqs every time: the cloud deduplicates
    assert len(store) == 1  # the safety event goes in the next batch


def test_batch_inherited_from_a_previous_run_is_never_replanned(tmp_path):
    store, net, up = uploader(tmp_path, [REFUSED])
    store.take_batch(1.0, 100)  # planned (and maybe sent) by the process that was killed
    store.last_batch_fresh = False
    inherited = [e.wire_seq for e in store.take_batch(1.0, 100)]
    up.step()
    assert net.sent == [inherited]
    assert [e.wire_seq for e in store.take_batch(1.0, 100)] == inherited
