"""Black box: a rolling window of the robot's serialized topics; the window around a safety event -> MCAP.

The core (:class:`BlackBox`) keeps ``(topic, type, time, CDR bytes)`` records and knows which recordings are
due; events that fall into a window still waiting for its post-trigger part join that recording (one file per
incident, not one per event). :func:`write_mcap` writes one recording as an MCAP file following the ros2 MCAP
profile as rosbag2 writes it: profile ``ros2``, schemas named ``pkg/msg/Type`` in ``ros2msg`` encoding, ``cdr``
messages, and each channel's ``offered_qos_profiles`` metadata; readable by ``ros2 bag``, rosbags, Foxglove, the
``mcap`` tools and ``mcap_ros2.reader``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mcap.well_known import MessageEncoding, Profile, SchemaEncoding
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter

from sigma_bridge.msgdefs import message_definition


@dataclass(frozen=True)
class Record:
    """One serialized message: topic, ``pkg/msg/Type``, receive time [ns] and its CDR bytes."""

    topic: str
    type_name: str
    t_ns: int
    data: bytes


@dataclass(frozen=True)
class QosSpec:
    """A topic's QoS as the ros2 MCAP profile records it (``offered_qos_profiles``); durations are infinite."""

    reliability: str  # "reliable" | "best_effort"
    durability: str  # "volatile" | "transient_local"
    depth: int
    history: str = "keep_last"

    def to_yaml(self) -> str:
        """The YAML list rosbag2 (Jazzy and later) writes into the channel metadata."""
        inf = "\n    sec: 9223372036\n    nsec: 854775807"
        return (f"- history: {self.history}\n  depth: {self.depth}\n  reliability: {self.reliability}\n"
                f"  durability: {self.durability}\n  deadline:{inf}\n  lifespan:{inf}\n  liveliness: automatic\n"
                f"  liveliness_lease_duration:{inf}\n  avoid_ros_namespace_conventions: false")


UNKNOWN_QOS = QosSpec("reliable", "volatile", 10)


@dataclass
class Recording:
    """A recording requested for a safety event at ``t_ns``; ``path`` is where it will be written. Later events
    inside its window join it (``triggers``) and may extend its end ``due_ns`` up to ``max_due_ns``."""

    path: str
    t_ns: int
    due_ns: int
    max_due_ns: int = 0
    triggers: list[int] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


class BlackBox:
    """Rolling window of records, bounded by age and bytes; cuts the window around each trigger."""

    def __init__(self, *, pre_s: float, post_s: float, max_bytes: int, max_pending: int = 8) -> None:
        if pre_s <= 0 or post_s < 0 or max_bytes <= 0:
            raise ValueError(f"black box needs pre_s>0, post_s>=0, max_bytes>0, got {pre_s}, {post_s}, {max_bytes}")
        self.pre_ns = int(pre_s * 1e9)
        self.post_ns = int(post_s * 1e9)
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self._ring: deque[Record] = deque()
        self._bytes = 0
        self._pending: list[Recording] = []
        self.evicted = 0
        self.skipped_triggers = 0

    def add(self, record: Record) -> None:
        """Append a record (times should be non-decreasing) and evict what fell out of the window."""
        self._ring.append(record)
        self._bytes += len(record.data)
        # Keep the pre-window, and the whole window of every recording still waiting for its post-window.
        horizon = min([record.t_ns] + [p.t_ns for p in self._pending]) - self.pre_ns
        while self._ring and (self._ring[0].t_ns < horizon or self._bytes > self.max_bytes):
            self._bytes -= len(self._ring.popleft().data)
            self.evicted += 1

    def trigger(self, t_ns: int, path: str) -> Recording | None:
        """Request the window ``[t - pre, t + post]`` to be written to ``path``.

        An event at or before the end of a recording still waiting for its post-window joins that recording
        (returned, with its own path) and extends its end to ``t + post``, at most to twice the post-window after
        the first event, so a stream of events still produces files. None if too many recordings are pending.
        """
        for rec in self._pending:
            if rec.t_ns - self.pre_ns <= t_ns <= rec.due_ns:
                rec.triggers.append(t_ns)
                rec.due_ns = min(max(rec.due_ns, t_ns + self.post_ns), rec.max_due_ns)
                return rec
        if len(self._pending) >= self.max_pending:
            self.skipped_triggers += 1
            return None
        rec = Recording(path=path, t_ns=t_ns, due_ns=t_ns + self.post_ns, max_due_ns=t_ns + 2 * self.post_ns,
                        triggers=[t_ns])
        self._pending.append(rec)
        return rec

    def due(self, now_ns: int) -> list[Recording]:
        """Recordings whose post-window has passed, filled with their records and removed from pending."""
        ready = [r for r in self._pending if now_ns >= r.due_ns]
        for r in ready:
            lo = r.t_ns - self.pre_ns
            r.records = [x for x in self._ring if lo <= x.t_ns <= r.due_ns]
            self._pending.remove(r)
        return ready

    @property
    def size_bytes(self) -> int:
        return self._bytes


def write_mcap(path: str | Path, records: Iterable[Record], metadata: dict[str, str] | None = None,
               qos: Mapping[str, QosSpec] | None = None) -> int:
    """Write ``records`` as a ros2-profile MCAP file (atomically: a temp file renamed into place); return the count.

    ``qos`` maps each topic to the QoS its publishers offer (docs/contracts.md); others are recorded as
    reliable/volatile depth 10.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    n = 0
    with open(tmp, "wb") as f:
        w = McapWriter(f, compression=CompressionType.ZSTD)
        w.start(profile=Profile.ROS2, library="sigma_bridge")
        schemas: dict[str, int] = {}
        channels: dict[str, int] = {}
        for r in records:
            if r.type_name not in schemas:
                schemas[r.type_name] = w.register_schema(
                    name=r.type_name,
                    encoding=SchemaEncoding.ROS2,
                    data=message_definition(r.type_name).encode(),
                )
            if r.topic not in channels:
                offered = (qos or {}).get(r.topic, UNKNOWN_QOS)
                channels[r.topic] = w.register_channel(
                    topic=r.topic, message_encoding=MessageEncoding.CDR, schema_id=schemas[r.type_name],
                    metadata={"offered_qos_profiles": offered.to_yaml()},
                )
            w.add_message(channel_id=channels[r.topic], log_time=r.t_ns, publish_time=r.t_ns, data=r.data, sequence=n)
            n += 1
        if metadata:
            w.add_metadata("sigma_bridge", metadata)
        w.finish()
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return n
