"""The bridge's background threads, so nothing slow ever runs on the rclpy executor thread.

- :class:`Handoff`: a bounded in-memory buffer between ROS callbacks and the store (routine events are dropped,
  and counted, when it is full; safety events are never dropped).
- :class:`StoreWriter`: group-commits the hand-off into the durable store every ``period`` seconds.
- :class:`Uploader`: one batch in flight over one persistent connection; acks drop events from the store.
- :class:`DownlinkPoller`: long-polls decisions, hands each verdict to a callback, acknowledges it.
No rclpy here; the node passes callables in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import httpx

import sigma_protocol as protocol
from sigma_bridge.downlink import DecisionFilter, Verdict
from sigma_bridge.store import PRIORITY_SAFETY, EventStore, NewEvent, StoreStats
from sigma_bridge.uplink import Backoff, UplinkClient

log = logging.getLogger("sigma_bridge")


class Handoff:
    """Thread-safe bounded buffer of new events (safety events bypass the bound)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._routine: deque[NewEvent] = deque()
        self._safety: list[NewEvent] = []
        self._dropped: dict[str, int] = {}

    def put(self, event: NewEvent) -> bool:
        """Buffer ``event``; False when a routine event was dropped because the buffer is full."""
        with self._lock:
            if event.priority == PRIORITY_SAFETY:
                self._safety.append(event)
                return True
            if len(self._routine) >= self.capacity:
                self._dropped[event.channel] = self._dropped.get(event.channel, 0) + 1
                return False
            self._routine.append(event)
            return True

    def drain(self) -> tuple[list[NewEvent], dict[str, int]]:
        """Everything buffered (safety first) and the drops since the last drain."""
        with self._lock:
            events = self._safety + list(self._routine)
            dropped = self._dropped
            self._safety, self._routine, self._dropped = [], deque(), {}
        return events, dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._routine) + len(self._safety)


class _Worker(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


class StoreWriter(_Worker):
    """Commits the hand-off buffer to the store in groups; ``on_commit`` is told how many were committed."""

    def __init__(self, store: EventStore, lock: threading.Lock, handoff: Handoff, period: float,
                 wake: threading.Event) -> None:
        super().__init__("bridge-store-writer")
        self.store, self.lock, self.handoff, self.period, self.wake = store, lock, handoff, period, wake
        self.committed = 0
        self.snapshot: StoreStats | None = None
        self._stats_at = 0.0

    def flush(self) -> int:
        events, dropped = self.handoff.drain()
        if not events and not dropped:
            return 0
        with self.lock:
            self.store.put_many(events, time.time(), dropped_before=dropped)
        self.committed += len(events)
        self.wake.set()
        return len(events)

    def refresh_stats(self, every: float = 0.5) -> None:
        """Cache the store's counters for diagnostics, so the executor thread never waits on the store lock."""
        now = time.monotonic()
        if now - self._stats_at >= every:
            with self.lock:
                self.snapshot = self.store.stats()
            self._stats_at = now

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            try:
                self.flush()
                self.refresh_stats()
            except Exception as exc:  # noqa: BLE001 - keep running; the error is reported in diagnostics
                self.error = exc
                log.error("store commit failed: %s", exc)
        self.flush()  # a clean stop commits what is buffered


class Uploader(_Worker):
    """Sends the store's batches in wire-seq order, one in flight, retrying with backoff."""

    def __init__(self, store: EventStore, lock: threading.Lock, client: UplinkClient, max_events: int,
                 wake: threading.Event, priority_max_events: int = 0,
                 priority_client: UplinkClient | None = None) -> None:
        super().__init__("bridge-uploader")
        # The priority lane (docs/device-protocol.md "Priority lane"): while a safety event waits, the next batch
        # is cut to this many events and signed for the cloud's priority lane; 0 = off (every batch in bulk).
        # `priority_client` sends those batches to the cloud's decision path (the bridge's decision_url; docs/
        # deploy.md): replicas that take no bulk ingest. None = `client`.
        self.priority_max_events = priority_max_events
        self.priority_client = priority_client
        self.priority_batches = 0
        self.store, self.lock, self.client, self.max_events, self.wake = store, lock, client, max_events, wake
        self.backoff = Backoff()
        self.sent_batches = 0
        self.failures = 0
        self.dead_lettered = 0
        self.last_error = ""
        self.connected = False
        self._clean = False  # an inherited unacknowledged batch may have been delivered before a restart
        self._bisect: int | None = None  # batch-size limit while isolating a refused event (halved per refusal)
        self._bisect_acks = 0  # acks left before the limit is lifted even if no single event was refused

    def step(self) -> bool:
        """Send one batch; True if there may be more to send right away."""
        with self.lock:
            limit = min(self.max_events, self._bisect or self.max_events)
            if self.priority_max_events and self.store.safety_event_waiting():
                limit = min(limit, self.priority_max_events)  # the safety event goes now, in a small batch
            batch = self.store.take_batch(time.time(), limit)
            fresh = self.store.last_batch_fresh
        if not batch:
            return False
        if fresh:
            self._clean = True  # planned here and not sent yet
        # One batch in flight, in wire-seq order, in either lane: the cloud's high-water mark stays exactly-once.
        if 0 < len(batch) <= self.priority_max_events and any(e.channel == "safety_event" for e in batch):
            self.priority_batches += 1
            out = (self.priority_client or self.client).send_batch(batch, time.time(), priority=True)
        else:
            out = self.client.send_batch(batch, time.time())
        if out.ambiguous:
            self._clean = False
        if out.kind == "acked":
            if self._bisect is not None:
                self._bisect_acks -= 1
                if self._bisect_acks <= 0:
                    self._bisect = None
            with self.lock:
                self.store.ack_through(out.acked_through)
            self.backoff.reset()
            self.sent_batches += 1
            self.connected = True
            return True
        self.failures += 1
        self.last_error = out.detail
        if out.kind == "reject":
            with self.lock:
                n = self.store.reject(out.reject_seqs, out.detail, time.time())
            log.error("cloud refused %d invalid event(s), moved to the dead letters: %s", n, out.detail)
            if n:
                return True
        if out.kind == "refused" or (out.kind == "split" and len(batch) <= 1):
            # Refused for good (unreadable, or one event larger than the cloud accepts): resending would block every
            # later event forever. A refused batch was stored nowhere, so it is re-planned in halves until the
            # event(s) at fault travel alone; only those are moved aside, counted and kept for inspection.
            if len(batch) > 1:
                with self.lock:
                    self.store.release_inflight()
                self._bisect, self._bisect_acks = max(1, len(batch) // 2), 2 * len(batch)
                return True
            with self.lock:
                n = self.store.dead_letter_inflight(out.detail, time.time())
            self.dead_lettered += n
            self._bisect = None
            log.error("cloud refused %d event(s) for good, moved to the store's dead letters: %s", n, out.detail)
            return True
        if out.kind == "split" and self.max_events > 1:
            # Too large is refused whole, on every attempt: it was never stored, so it can be re-planned smaller.
            with self.lock:
                self.store.release_inflight()
            self.max_events = max(1, len(batch) // 2)
            log.warning("batch too large; sending at most %d events per batch", self.max_events)
            return True
        self.connected = False
        if out.not_sent and self._clean:
            with self.lock:
                self.store.release_inflight()
        delay = self.backoff.next_delay(out.retry_after)
        if out.kind == "fatal":
            log.error("uplink refused (%s); retrying in %.1f s", out.detail, delay)
        self.stop_event.wait(delay)
        return False

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                more = self.step()
            except Exception as exc:  # noqa: BLE001 - a bad batch must not kill the uplink; report and retry
                self.error, more = exc, False
                log.error("uplink step failed: %s", exc)
                self.stop_event.wait(1.0)
            if not more:
                self.wake.wait(0.05)
                self.wake.clear()


class DownlinkPoller(_Worker):
    """Long-polls this robot's decisions; ``relay(decision)`` publishes one; every decision gets its ack."""

    def __init__(self, client: UplinkClient, filt: DecisionFilter, relay: Callable[[protocol.Decision], None],
                 wait_s: float) -> None:
        super().__init__("bridge-downlink")
        self.client, self.filter, self.relay, self.wait_s = client, filt, relay, wait_s
        self.path = protocol.DECISIONS_PATH.format(robot_id=client.robot_id) + f"?wait={int(wait_s)}"
        self.backoff = Backoff()
        self.counts: dict[str, int] = {}

    def poll_once(self) -> int:
        """One long-poll; returns the number of decisions handled."""
        r = self.client.request("GET", self.path, b"", time.time(), timeout=self.wait_s + 10.0)
        if r.status_code != 200:
            raise RuntimeError(f"decisions: HTTP {r.status_code} {r.text[:200]}")
        decisions = protocol.decode_decisions(r.content)
        for d in decisions:
            v = self.filter.check(d, time.time())
            if v.action == "relay":
                self.relay(d)
            status = self.filter.ack_status(v if v.action != "repeat" else Verdict(v.detail))
            detail = "relayed to cognition/decisions" if status == "applied" else v.detail
            self.counts[status] = self.counts.get(status, 0) + 1
            ack_path = protocol.DECISION_ACK_PATH.format(robot_id=self.client.robot_id, decision_id=d.decision_id)
            body = protocol.encode_decision_ack(status, detail, time.time())
            parent = protocol.parse_traceparent(d.traceparent)  # continue the decision's trace in the ack
            trace = protocol.child_traceparent(parent).header() if parent else ""
            # on /rosout (log_uplink.forward_to_rosout) with the decision's trace id, beside the cloud's records of it
            log.info("decision %s %s: %s%s", d.decision_id, d.action, status, f" traceparent={trace}" if trace else "")
            a = self.client.request("POST", ack_path, body, time.time(), traceparent=trace)
            if a.status_code not in (200, 409):
                raise RuntimeError(f"decision ack {d.decision_id}: HTTP {a.status_code} {a.text[:200]}")
        return len(decisions)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
                self.backoff.reset()
            except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as exc:
                self.error = exc
                self.stop_event.wait(self.backoff.next_delay())
