"""The log uplink's pure core (docs/logs.md): a per-node rate limit and a bounded, severity-aware record buffer.

No rclpy, no threads, no clock of its own: time is passed in, the caller locks.

- :class:`RateLimiter`: a token bucket per (node, class); ERROR/FATAL have their own bucket, so a node logging INFO
  in a loop never eats the allowance of its errors, and a node logging errors in a loop cannot starve the others.
- :class:`LogBuffer`: holds every record not yet acknowledged, one FIFO per severity. When full, the oldest record
  of the *lowest* severity present goes first; a new record of a lower severity than everything held is dropped
  instead. So under a dead cloud, ERROR/FATAL are never dropped while any DEBUG/INFO/WARN record is held. Batches
  are the oldest records by sequence; an acknowledgement removes everything up to its sequence. Every drop is
  counted per reason and severity (cumulative for the stream, shipped with each batch).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sigma_protocol.logs import DROP_REASONS, SEVERITIES, severity_name

ERROR_LEVEL = 40  # rcl_interfaces/msg/Log.ERROR; FATAL (50) is above it


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per (node, routine|error): `rate` records/s sustained, `burst` at once (0 rate = no limit)."""

    def __init__(self, rate: float, burst: float, error_rate: float, error_burst: float,
                 max_nodes: int = 1024) -> None:
        self.rate, self.burst, self.error_rate, self.error_burst = rate, burst, error_rate, error_burst
        self.max_nodes = max_nodes
        self._buckets: dict[tuple[str, bool], _Bucket] = {}

    def allow(self, node: str, severity: int, now: float) -> bool:
        """True if `node` may ship one more record of `severity` at `now` [s]."""
        error = severity >= ERROR_LEVEL
        rate, burst = (self.error_rate, self.error_burst) if error else (self.rate, self.burst)
        if rate <= 0:
            return True
        key = (node, error)
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_nodes:  # bounded: forget idle buckets (full ones) first
                self._buckets = {k: v for k, v in self._buckets.items()
                                 if v.tokens + (now - v.at) * rate < burst}
            b = self._buckets[key] = _Bucket(burst, now)
        b.tokens = min(burst, b.tokens + max(0.0, now - b.at) * rate)
        b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        return False


def _zero_counts() -> dict[str, dict[str, int]]:
    return {reason: {name: 0 for name in SEVERITIES.values()} for reason in DROP_REASONS}


class LogBuffer:
    """Unacknowledged log records (plain dicts with at least ``seq`` and ``severity``), bounded by `capacity`."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._queues: dict[int, deque[dict[str, Any]]] = {level: deque() for level in sorted(SEVERITIES)}
        self._size = 0
        self._next_seq = 1
        self.dropped = _zero_counts()
        self._inflight_through = 0  # the newest seq of the batch being sent (0: none)
        self._inflight_evicted = _zero_counts()["buffer"]  # evicted while in that batch: dropped only if it fails

    def __len__(self) -> int:
        return self._size

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def count_rate_limited(self, severity: int) -> None:
        """Count one record the rate limit refused."""
        self.dropped["rate"][severity_name(severity)] += 1

    def add(self, record: dict[str, Any]) -> int:
        """Hold `record` (its ``severity`` an rcl level), numbering it; returns its seq, or 0 when it was dropped."""
        level = self._level(record["severity"])
        if self._size >= self.capacity:
            lowest = next(lv for lv, q in self._queues.items() if q)
            if level < lowest:  # less important than everything held
                self.dropped["buffer"][SEVERITIES[level]] += 1
                return 0
            self._evict(lowest)
        record["seq"] = seq = self._next_seq
        self._next_seq += 1
        self._queues[level].append(record)
        self._size += 1
        return seq

    def _evict(self, level: int) -> None:
        victim = self._queues[level].popleft()
        self._size -= 1
        name = SEVERITIES[level]
        if victim["seq"] <= self._inflight_through:
            self._inflight_evicted[name] += 1  # it may still arrive: decided by the batch's answer
        else:
            self.dropped["buffer"][name] += 1

    @staticmethod
    def _level(severity: int) -> int:
        for level in reversed(SEVERITIES):
            if severity >= level:
                return level
        return min(SEVERITIES)

    def _ordered(self) -> Iterator[dict[str, Any]]:
        return heapq.merge(*self._queues.values(), key=lambda r: r["seq"])

    def take(self, max_records: int) -> list[dict[str, Any]]:
        """The oldest `max_records` records by seq (kept until acknowledged); marks them in flight."""
        batch = list(islice(self._ordered(), max_records))
        self._inflight_through = batch[-1]["seq"] if batch else 0
        return batch

    def ack_through(self, seq: int) -> int:
        """The cloud holds every record up to `seq`: forget them; returns how many were removed."""
        removed = 0
        for q in self._queues.values():
            while q and q[0]["seq"] <= seq:
                q.popleft()
                removed += 1
        self._size -= removed
        if seq >= self._inflight_through:
            self._inflight_through = 0
            self._inflight_evicted = _zero_counts()["buffer"]
        return removed

    def release(self) -> None:
        """The batch in flight failed: what was evicted from it is lost for good, so it is counted as dropped."""
        for name, n in self._inflight_evicted.items():
            self.dropped["buffer"][name] += n
        self._inflight_through = 0
        self._inflight_evicted = _zero_counts()["buffer"]

    def held(self) -> dict[str, int]:
        """Records held per severity name (diagnostics)."""
        return {SEVERITIES[level]: len(q) for level, q in self._queues.items()}
