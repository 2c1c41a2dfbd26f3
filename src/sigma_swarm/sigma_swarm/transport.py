"""Cyclone DDS binding of the mesh: one DDS domain per site (never the robot's ROS graph), one topic of signed
frames, reliable and volatile. Optional test hook: drop frames from chosen senders (a partition on this member).

Addressing uses DDS partitions: broadcasts go to partition ``_all``, a message for one member (votes, heartbeat
acknowledgements) to the partition named after it, and each member subscribes to ``_all`` and its own id only. So a
follower's reader never even sees the other followers' acknowledgements: no wake-up, no decoding, no signature check
(the at-rest CPU cost per member then grows with the leader's heartbeat rate, not with the site's size)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter, Publisher
from cyclonedds.sub import DataReader, Subscriber
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from sigma_swarm.wire import FRAME_TOPIC, Frame

LOCALHOST_CONFIG = """<CycloneDDS><Domain id="any">
  <General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General>
  <Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex>
    <Peers><Peer address="127.0.0.1"/></Peers></Discovery>
</Domain></CycloneDDS>"""


_CONFIGURED: dict[int, Domain] = {}
BROADCAST_PARTITION = "_all"  # robot ids never start with "_"; "*" and "?" would be DDS wildcards


def frame_qos(depth: int = 256) -> Qos:
    """Reliable, volatile, keep-last: a late joiner needs no history; a slow reader never blocks the writer long.
    Ignore-local: a member's own frames never come back to its own reader (no wake-up, no decoding to skip them)."""
    return Qos(Policy.Reliability.Reliable(duration(milliseconds=100)), Policy.Durability.Volatile,
               Policy.History.KeepLast(depth), Policy.IgnoreLocal.Participant)


class DdsTransport:
    """Publish and receive ``Frame`` samples on the site's swarm domain."""

    def __init__(self, domain_id: int, localhost_only: bool = False, own_id: str = "") -> None:
        if localhost_only and domain_id not in _CONFIGURED:
            # The Domain object must outlive the participants (it carries the configuration); one per process.
            _CONFIGURED[domain_id] = Domain(domain_id, LOCALHOST_CONFIG)
        self.participant = DomainParticipant(domain_id)
        self.topic = Topic(self.participant, FRAME_TOPIC, Frame)
        self.writer = self._writer(BROADCAST_PARTITION)
        self._direct: dict[str, DataWriter] = {}
        partitions = [BROADCAST_PARTITION, own_id] if own_id else [BROADCAST_PARTITION]
        subscriber = Subscriber(self.participant, Qos(Policy.Partition(partitions)))
        self.reader = DataReader(subscriber, self.topic, frame_qos())
        self._condition = ReadCondition(self.reader, ViewState.Any | SampleState.Any | InstanceState.Any)
        self._waitset = WaitSet(self.participant)
        self._waitset.attach(self._condition)
        self.blocked: set[str] = set()
        self.blocked_count = 0

    def _writer(self, partition: str) -> DataWriter:
        publisher = Publisher(self.participant, Qos(Policy.Partition([partition])))
        return DataWriter(publisher, self.topic, frame_qos())

    def prepare(self, peers: Iterable[str]) -> None:
        """Create the direct writers to ``peers`` ahead of time, so they are matched before the first vote."""
        for peer in peers:
            if peer not in self._direct:
                self._direct[peer] = self._writer(peer)

    def publish(self, frame: Frame, to: str | None = None) -> None:
        """Broadcast ``frame``, or send it to member ``to`` only."""
        if to is None:
            self.writer.write(frame)
            return
        writer = self._direct.get(to)
        if writer is None:
            writer = self._direct[to] = self._writer(to)
        writer.write(frame)

    def receive(self, timeout_s: float, wake_on_frame: bool = True) -> list[Frame]:
        """Frames that arrived, waiting up to ``timeout_s`` for the first one — or, with ``wake_on_frame`` False,
        sleeping the whole ``timeout_s`` and then taking everything that arrived meanwhile in one batch (a member
        with nothing urgent to read saves a wake-up per frame)."""
        if timeout_s > 0:
            if wake_on_frame:
                self._waitset.wait(duration(seconds=timeout_s))
            else:
                time.sleep(timeout_s)
        # take() also hands out InvalidSample for instance state changes (the last writer of the keyless topic in a
        # partition gone, a dispose): not frames (reported by helper C: one crashed a member's mesh thread)
        frames = [f for f in self.reader.take(N=256) if isinstance(f, Frame)]
        if self.blocked:
            kept = [f for f in frames if f.sender not in self.blocked]
            self.blocked_count += len(frames) - len(kept)
            frames = kept
        return frames

    def block(self, senders: Iterable[str]) -> None:
        """Test hook: from now on drop every frame from ``senders`` (empty = heal)."""
        self.blocked = set(senders)

    def matched_writers(self) -> int:
        return len(self.reader.get_matched_publications())

    def close(self) -> None:
        self._waitset.detach(self._condition)
