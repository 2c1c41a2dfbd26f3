"""The log uplink's pure core: severity-aware eviction, drop counting, batches by sequence, acknowledgements, the
per-node rate limit, and the conversion of a rcl_interfaces/msg/Log (no rclpy spinning, time passed in)."""

from __future__ import annotations

import random

import pytest
from builtin_interfaces.msg import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from rcl_interfaces.msg import Log

from sigma_bridge.log_buffer import LogBuffer, RateLimiter
from sigma_bridge.log_uplink import to_record
from sigma_protocol import logs as wire

DEBUG, INFO, WARN, ERROR, FATAL = 10, 20, 30, 40, 50


def rec(severity: int, message: str = "") -> dict:
    return {"severity": severity, "message": message, "ts": 0.0, "node": "r1.n"}


def test_records_are_numbered_and_batched_oldest_first_across_severities() -> None:
    b = LogBuffer(100)
    seqs = [b.add(rec(s, f"m{i}")) for i, s in enumerate([INFO, ERROR, DEBUG, FATAL, WARN, INFO])]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert [r["message"] for r in b.take(4)] == ["m0", "m1", "m2", "m3"]
    assert b.ack_through(4) == 4 and len(b) == 2
    assert [r["seq"] for r in b.take(10)] == [5, 6]


def test_a_full_buffer_drops_the_lowest_severity_first_and_counts_it() -> None:
    b = LogBuffer(4)
    for s in (ERROR, INFO, DEBUG, INFO):
        b.add(rec(s))
    assert b.add(rec(WARN)) == 5  # evicts the DEBUG
    assert b.add(rec(ERROR)) == 6  # evicts the oldest INFO
    assert b.held() == {"debug": 0, "info": 1, "warn": 1, "error": 2, "fatal": 0}
    assert b.add(rec(DEBUG)) == 0  # less important than everything held: the new record is dropped
    assert b.dropped["buffer"] == {"debug": 2, "info": 1, "warn": 0, "error": 0, "fatal": 0}
    assert [r["seq"] for r in b.take(10)] == [1, 4, 5, 6]


def test_errors_are_dropped_only_when_nothing_less_important_is_held() -> None:
    b = LogBuffer(3)
    for s in (ERROR, ERROR, FATAL):
        b.add(rec(s))
    assert b.add(rec(ERROR)) == 4  # all ERROR/FATAL: the oldest ERROR goes
    assert b.dropped["buffer"]["error"] == 1 and b.held() == {"debug": 0, "info": 0, "warn": 0, "error": 2,
                                                               "fatal": 1}
    assert b.add(rec(INFO)) == 0


def test_an_eviction_from_the_batch_in_flight_counts_only_if_the_batch_fails() -> None:
    b = LogBuffer(3)
    for s in (INFO, INFO, ERROR):
        b.add(rec(s))
    assert [r["seq"] for r in b.take(2)] == [1, 2]
    b.add(rec(ERROR))  # evicts seq 1, which is in flight
    assert b.dropped["buffer"]["info"] == 0
    b.ack_through(2)  # it arrived after all: not a drop
    assert b.dropped["buffer"]["info"] == 0 and [r["seq"] for r in b.take(5)] == [3, 4]
    b2 = LogBuffer(2)
    b2.add(rec(INFO))
    b2.add(rec(INFO))
    b2.take(2)
    b2.add(rec(ERROR))
    b2.release()  # the batch failed: the evicted record is lost
    assert b2.dropped["buffer"]["info"] == 1 and [r["seq"] for r in b2.take(5)] == [2, 3]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([DEBUG, INFO, WARN, ERROR, FATAL]), max_size=300), st.integers(1, 40))
def test_property_no_error_is_dropped_while_a_lower_severity_is_held(severities: list[int], capacity: int) -> None:
    """Under a dead cloud (nothing acknowledged): held + dropped = offered per severity, the buffer stays within
    capacity, batches are in seq order, and an ERROR/FATAL record is dropped only if no DEBUG/INFO/WARN is held."""
    b = LogBuffer(capacity)
    for i, s in enumerate(severities):
        b.add(rec(s, str(i)))
        assert len(b) <= capacity
    held = b.take(capacity)
    assert [r["seq"] for r in held] == sorted(r["seq"] for r in held)
    counts = {name: sum(1 for s in severities if wire.severity_name(s) == name) for name in wire.SEVERITY_OF_NAME}
    for name, n in counts.items():
        assert b.held()[name] + b.dropped["buffer"][name] == n
    if b.dropped["buffer"]["error"] or b.dropped["buffer"]["fatal"]:
        assert b.held()["debug"] == b.held()["info"] == b.held()["warn"] == 0


def test_rate_limit_per_node_with_a_separate_error_allowance() -> None:
    lim = RateLimiter(rate=10.0, burst=5.0, error_rate=2.0, error_burst=3.0)
    spam = [lim.allow("r1.loop", INFO, 0.0) for _ in range(20)]
    assert sum(spam) == 5  # the burst, then refused
    assert [lim.allow("r1.loop", ERROR, 0.0) for _ in range(4)] == [True, True, True, False]  # own bucket
    assert lim.allow("r1.quiet", INFO, 0.0)  # other nodes unaffected
    # one second later: a full burst (5), then 10/s over the next 0.99 s
    assert sum(lim.allow("r1.loop", INFO, 1.0 + i / 100) for i in range(100)) == pytest.approx(5 + 9.9, abs=1)
    unlimited = RateLimiter(0.0, 1.0, 0.0, 1.0)
    assert all(unlimited.allow("x", INFO, 0.0) for _ in range(1000))


def test_rate_limiter_memory_is_bounded() -> None:
    lim = RateLimiter(rate=1.0, burst=1.0, error_rate=1.0, error_burst=1.0, max_nodes=50)
    rng = random.Random(3)
    for i in range(2000):
        lim.allow(f"n{rng.randrange(10_000)}", INFO, i * 10.0)
    assert len(lim._buckets) <= 51


def log_msg(name: str, level: int = 20, text: str = "hi") -> Log:
    return Log(stamp=Time(sec=1_700_000_000, nanosec=250_000_000), level=level, name=name, msg=text,
               file="/x/node.py", function="tick", line=12)


def test_to_record_keeps_only_this_robots_nodes_and_finds_trace_ids() -> None:
    assert to_record(log_msg("r10.core"), "r1") is None
    assert to_record(log_msg("sim_node"), "r1") is None
    r = to_record(log_msg("r1.core", 40, "batch 00-" + "a1" * 16 + "-" + "b2" * 8 + "-01 failed"), "r1")
    assert r == {"ts": 1_700_000_000.25, "severity": 40, "node": "r1.core", "file": "/x/node.py",
                 "function": "tick", "line": 12, "trace_id": "a1" * 16,
                 "message": "batch 00-" + "a1" * 16 + "-" + "b2" * 8 + "-01 failed"}
    assert to_record(log_msg("r1.core", 20, 'x trace_id="' + "c3" * 16 + '"'), "r1")["trace_id"] == "c3" * 16
    long = to_record(log_msg("r1", 20, "x" * 10_000), "r1")
    assert len(long["message"]) == wire.MAX_MESSAGE_CHARS and long["message"].endswith("…")
    assert "trace_id" not in to_record(log_msg("r1.a", 20, "trace of nothing"), "r1")
