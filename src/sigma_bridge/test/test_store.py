"""The durable queue: wire-seq order and resends, bounds and drop policy, rate-limited backlog, crash survival."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sigma_bridge.store import PRIORITY_ROUTINE, PRIORITY_SAFETY, EventStore, NewEvent


def routine(ch: str, i: int) -> NewEvent:
    return NewEvent(ch, float(i), f"{ch}:{i}".encode(), PRIORITY_ROUTINE)


def safety(i: int) -> NewEvent:
    return NewEvent("safety_event", float(i), f"s:{i}".encode(), PRIORITY_SAFETY)


def test_durable_policy_is_wal_full_and_bad_config_is_refused(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=10)
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.synchronous == "FULL"
    with pytest.raises(ValueError, match="synchronous"):
        EventStore(tmp_path / "r.db", capacity=10, synchronous="SOMETIMES")
    with pytest.raises(ValueError, match="capacity"):
        EventStore(tmp_path / "r.db", capacity=0)


def test_unacked_batch_is_resent_with_same_seqs_across_restart(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=100)
    s.put_many([routine("imu", i) for i in range(5)], now=10.0)
    batch = s.take_batch(now=10.0, max_events=3)
    assert [e.payload for e in batch] == [b"imu:0", b"imu:1", b"imu:2"]
    seqs = [e.wire_seq for e in batch]
    assert seqs == list(range(seqs[0], seqs[0] + 3)) and seqs[0] == 10_000_000  # starts at UNIX time in us
    assert [e.wire_seq for e in s.take_batch(now=11.0, max_events=100)] == seqs  # not acked: same batch again
    s.close()
    s2 = EventStore(tmp_path / "q.db", capacity=100)
    assert [e.wire_seq for e in s2.take_batch(now=12.0, max_events=100)] == seqs  # also after a restart
    assert s2.ack_through(seqs[1]) == 2
    assert [e.payload for e in s2.take_batch(now=12.0, max_events=100)] == [b"imu:2"]
    assert s2.ack_through(seqs[2]) == 1
    nxt = s2.take_batch(now=12.0, max_events=100)
    assert [e.payload for e in nxt] == [b"imu:3", b"imu:4"]
    assert [e.wire_seq for e in nxt] == [seqs[2] + 1, seqs[2] + 2]  # strictly increasing over the lifetime
    st = s2.stats()
    assert st.enqueued == {"imu": 5} and st.acked == {"imu": 3} and st.pending == 2


def test_released_batch_is_replanned_safety_first(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=100)
    s.put_many([routine("imu", i) for i in range(3)], now=1.0)
    first = s.take_batch(now=1.0, max_events=10)
    s.put_many([safety(0)], now=2.0)
    assert s.take_batch(now=2.0, max_events=10) == first  # in flight: unchanged
    assert s.release_inflight() == 3  # connection refused: it never reached the cloud
    again = s.take_batch(now=2.0, max_events=10)
    assert again[0].payload == b"s:0" and again[0].wire_seq > first[-1].wire_seq


def test_rejected_events_leave_and_are_counted(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=100)
    s.put_many([routine("imu", i) for i in range(3)], now=1.0)
    b = s.take_batch(now=1.0, max_events=10)
    assert s.reject([b[1].wire_seq]) == 1
    assert [e.payload for e in s.take_batch(now=1.0, max_events=10)] == [b"imu:0", b"imu:2"]
    assert s.stats().rejected == {"imu": 1}


def test_overflow_drops_oldest_routine_never_safety_nor_in_flight(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=10)
    s.put_many([routine("imu", -1)], 0.0)
    inflight = s.take_batch(now=0.0, max_events=1)
    s.put_many([safety(0)] + [routine("imu", i) for i in range(5)] + [routine("battery", i) for i in range(3)], 1.0)
    dropped = s.put_many([routine("imu", 100 + i) for i in range(4)] + [safety(1)], now=2.0)
    assert dropped == {"imu": 5}
    assert len(s) == 10
    s.ack_through(inflight[0].wire_seq)
    left = [e.payload for e in s.take_batch(now=2.0, max_events=100)]
    assert b"s:0" in left[:2] and b"s:1" in left[:2]  # safety first
    assert all(f"imu:{i}".encode() not in left for i in range(5))
    s.ack_through(10**18)
    # Only safety left and over capacity: safety is kept beyond the bound.
    s.put_many([safety(i) for i in range(2, 14)], now=3.0)
    st = s.stats()
    assert st.pending_safety == 12 and st.pending == 12
    assert st.dropped == {"imu": 5}
    assert sum(st.enqueued.values()) - sum(st.dropped.values()) - sum(st.acked.values()) == st.pending


def test_upstream_drops_are_counted(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=10)
    s.put_many([routine("imu", 0)], 0.0, dropped_before={"imu": 7})
    assert s.stats().dropped == {"imu": 7}


def test_safety_first_then_live_then_rate_limited_backlog(tmp_path):
    s = EventStore(tmp_path / "q.db", capacity=100_000, live_window=1.0, backlog_rate=100.0)
    s.put_many([routine("imu", i) for i in range(1000)], now=0.0)  # the outage backlog
    s.put_many([routine("battery", 0), safety(0)], now=10.0)  # live data after the outage
    batch = s.take_batch(now=10.0, max_events=500)
    assert batch[0].channel == "safety_event"
    assert batch[1].channel == "battery"
    backlog = [e for e in batch if e.channel == "imu"]
    assert len(backlog) == 100  # a full bucket holds one second of backlog rate
    s.ack_through(batch[-1].wire_seq)
    nxt = s.take_batch(now=10.5, max_events=500)
    assert len(nxt) == 50 and nxt[0].payload == b"imu:100"


KILL_CASE = textwrap.dedent(
    """
    import sys
    from sigma_bridge.store import EventStore, NewEvent
    s = EventStore(sys.argv[1], capacity=1_000_000)
    i = 0
    while True:
        s.put_many([NewEvent("imu", 0.0, str(i + k).encode()) for k in range(10)], now=float(i))
        i += 10
        print(i, flush=True)
    """
)


def test_survives_kill_9_without_loss(tmp_path):
    db = tmp_path / "q.db"
    p = subprocess.Popen([sys.executable, "-c", KILL_CASE, str(db)], stdout=subprocess.PIPE, text=True)
    last = 0
    for line in p.stdout:
        last = int(line)
        if last >= 300:
            break
    p.kill()  # SIGKILL mid-stream
    p.wait()
    s = EventStore(db, capacity=1_000_000, backlog_rate=1e7)
    got = [int(e.payload) for e in s.take_batch(now=1e6, max_events=10**6)]
    # Everything reported as committed is there, in order, without gaps or duplicates.
    assert len(got) >= last
    assert got == list(range(len(got)))
    assert s.stats().enqueued["imu"] == len(got)


def test_newest_safety_key_survives_a_restart(tmp_path):
    """The de-duplication mark for transient-local safety events: newest (stamp, sequence) ever enqueued."""
    store = EventStore(tmp_path / "q.db", capacity=100)
    assert store.last_safety_key() == (0, -1)
    store.put_many([NewEvent("safety_event", 1.0, b"{}", PRIORITY_SAFETY, (5_000, 7)),
                    NewEvent("safety_event", 1.0, b"{}", PRIORITY_SAFETY, (5_000, 8)),
                    NewEvent("joint_states", 1.0, b"{}", PRIORITY_ROUTINE)], now=1.0)
    store.put_many([NewEvent("safety_event", 1.0, b"{}", PRIORITY_SAFETY, (4_000, 99))], now=2.0)  # older stamp
    store.close()
    assert EventStore(tmp_path / "q.db", capacity=100).last_safety_key() == (5_000, 8)
