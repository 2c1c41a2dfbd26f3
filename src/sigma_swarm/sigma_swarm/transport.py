"""Cyclone DDS binding of the mesh: one DDS domain per site (never the robot's ROS graph), one topic of signed
frames, reliable and volatile. Optional test hook: drop frames from chosen senders (a partition on this member).

Addressing uses DDS partitions: broadcasts go to partition ``_all``, a message for one member (votes, heartbeat
acknowledgements) to the partition named after it, and each member subscribes to ``_all`` and its own id only. So a
follower's reader never even sees the other followers' acknowledgements: no wake-up, no decoding, no signature check
(the at-rest CPU cost per member then grows with the leader's heartbeat rate, not with the site's size).

Lanes (round 5): what a member reads comes in on three readers, and only two of them wake it.
- ``_all`` + own id (reliable, wakes): votes and their answers, acknowledgements, leader commands, members' reports.
- ``_beat`` (best effort, wakes): the leader's heartbeats. Each is superseded by the next one a period (125 ms)
  later, so DDS retransmitting a lost one is worth nothing, and reliability cost the leader an ACKNACK from every
  follower per heartbeat (its receive thread) plus its writer's retransmission timer. The same reader takes the
  acknowledgements addressed to this member (partition ``_ack.<robot id>``, round 6, best effort): an
  acknowledgement renews the lease only if it arrives within the round, so a retransmission is worth nothing there
  either, and a reliable one cost the leader an ACKNACK per acknowledgement (19 x 13.3 a second at 20 members with
  round 6's 75 ms heartbeat).
- ``_lazy`` (reliable, never wakes): membership heartbeats (every member, 1 s) and members' broadcasts. They feed
  failure detection (2.5 s), roster commits and applications that tolerate tens of milliseconds; they are taken at
  the member's next wake-up (≤ one leader heartbeat period at rest). Before, each one woke every member: at 20
  members 19 extra wake-ups per second per member, more than the leader's 13.3 heartbeats of then.
Which lane a frame travels is routing only: the receiver accepts every kind from every reader and checks each frame
the same way."""

from __future__ import annotations

import time
from collections.abc import Iterable

from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter, Publisher
from cyclonedds.sub import DataReader, Subscriber
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from sigma_swarm.core import HeartbeatAck, LeaderHeartbeat, MemberBroadcast, MemberHeartbeat
from sigma_swarm.wire import FRAME_TOPIC, KIND_OF, Frame

# Loopback with multicast (round 7): Linux's IPv4 loopback delivers multicast although its interface flags do not say
# so; Cyclone's override (multicast="true", as Cyclone's maintainers advise in rmw_cyclonedds#489) makes it use it.
# A frame to every member (the leader's heartbeat, membership heartbeats, votes, commands) is then one send that the
# kernel hands to each member's socket, as on a site's real network, instead of one unicast send per member from
# the writer (at 20 members 19 sendmsg per leader heartbeat: most of the leader's CPU at rest). Frames to one member
# (acknowledgements, vote answers, reports) stay unicast (one matched reader).
LOCALHOST_CONFIG = """<CycloneDDS><Domain id="any">
  <General><Interfaces><NetworkInterface name="lo" multicast="true"/></Interfaces>
    <AllowMulticast>true</AllowMulticast></General>
  <Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex>
    <Peers><Peer address="127.0.0.1"/></Peers></Discovery>
</Domain></CycloneDDS>"""


_CONFIGURED: dict[int, Domain] = {}
BROADCAST_PARTITION = "_all"  # robot ids never start with "_"; "*" and "?" would be DDS wildcards
BEAT_PARTITION = "_beat"  # the leader's heartbeats (best effort)
LAZY_PARTITION = "_lazy"  # membership heartbeats and members' broadcasts (read at the next wake-up)
BEAT_KINDS = frozenset({KIND_OF[LeaderHeartbeat]})
LAZY_KINDS = frozenset({KIND_OF[MemberHeartbeat], KIND_OF[MemberBroadcast]})
ACK_PARTITION_PREFIX = "_ack."  # + the addressee's robot id: acknowledgements to it (best effort, round 6)
ACK_KINDS = frozenset({KIND_OF[HeartbeatAck]})


def frame_qos(depth: int = 256, reliable: bool = True) -> Qos:
    """Reliable (or best effort), volatile, keep-last: a late joiner needs no history; a slow reader never blocks the
    writer long. Ignore-local: a member's own frames never come back to its own reader (no wake-up, no decoding)."""
    reliability = (Policy.Reliability.Reliable(duration(milliseconds=100)) if reliable
                   else Policy.Reliability.BestEffort)
    return Qos(reliability, Policy.Durability.Volatile, Policy.History.KeepLast(depth), Policy.IgnoreLocal.Participant)


class DdsTransport:
    """Publish and receive ``Frame`` samples on the site's swarm domain."""

    def __init__(self, domain_id: int, localhost_only: bool = False, own_id: str = "") -> None:
        if localhost_only and domain_id not in _CONFIGURED:
            # The Domain object must outlive the participants (it carries the configuration); one per process.
            _CONFIGURED[domain_id] = Domain(domain_id, LOCALHOST_CONFIG)
        self.participant = DomainParticipant(domain_id)
        self.topic = Topic(self.participant, FRAME_TOPIC, Frame)
        self.writer = self._writer(BROADCAST_PARTITION)
        self.beat_writer = self._writer(BEAT_PARTITION, reliable=False)
        self.lazy_writer = self._writer(LAZY_PARTITION)
        self._direct: dict[str, DataWriter] = {}
        self._ack_direct: dict[str, DataWriter] = {}
        partitions = [BROADCAST_PARTITION, own_id] if own_id else [BROADCAST_PARTITION]
        self.reader = self._reader(partitions)
        beat_partitions = [BEAT_PARTITION, ACK_PARTITION_PREFIX + own_id] if own_id else [BEAT_PARTITION]
        self.beat_reader = self._reader(beat_partitions, reliable=False)
        self.lazy_reader = self._reader([LAZY_PARTITION])
        # The beat lane first: a leader that reads once a round takes the acknowledgements that renew its lease
        # before the reports and commands that arrived with them (a report is refused while the lease is lapsed).
        self._readers = (self.beat_reader, self.reader, self.lazy_reader)
        self._conditions = [ReadCondition(r, ViewState.Any | SampleState.Any | InstanceState.Any)
                            for r in (self.reader, self.beat_reader)]  # the lazy reader wakes nobody
        self._waitset = WaitSet(self.participant)
        for condition in self._conditions:
            self._waitset.attach(condition)
        self.blocked: set[str] = set()
        self.blocked_count = 0

    def _writer(self, partition: str, reliable: bool = True) -> DataWriter:
        publisher = Publisher(self.participant, Qos(Policy.Partition([partition])))
        return DataWriter(publisher, self.topic, frame_qos(reliable=reliable))

    def _reader(self, partitions: list[str], reliable: bool = True) -> DataReader:
        subscriber = Subscriber(self.participant, Qos(Policy.Partition(partitions)))
        return DataReader(subscriber, self.topic, frame_qos(reliable=reliable))

    def prepare(self, peers: Iterable[str]) -> None:
        """Create the direct writers to ``peers`` ahead of time, so they are matched before the first vote."""
        for peer in peers:
            if peer not in self._direct:
                self._direct[peer] = self._writer(peer)
            if peer not in self._ack_direct:
                self._ack_direct[peer] = self._writer(ACK_PARTITION_PREFIX + peer, reliable=False)

    def publish(self, frame: Frame, to: str | None = None) -> None:
        """Broadcast ``frame`` (on its kind's lane), or send it to member ``to`` only."""
        if to is None:
            if frame.kind in BEAT_KINDS:
                self.beat_writer.write(frame)
            elif frame.kind in LAZY_KINDS:
                self.lazy_writer.write(frame)
            else:
                self.writer.write(frame)
            return
        if frame.kind in ACK_KINDS:
            writer = self._ack_direct.get(to)
            if writer is None:
                writer = self._ack_direct[to] = self._writer(ACK_PARTITION_PREFIX + to, reliable=False)
        else:
            writer = self._direct.get(to)
            if writer is None:
                writer = self._direct[to] = self._writer(to)
        writer.write(frame)

    def receive(self, timeout_s: float, wake_on_frame: bool = True) -> list[Frame]:
        """Frames that arrived, waiting up to ``timeout_s`` for the first one — or, with ``wake_on_frame`` False,
        sleeping the whole ``timeout_s`` and then taking everything that arrived meanwhile in one batch (a member
        with nothing urgent to read saves a wake-up per frame). Frames on the lazy lane never end the wait; they are
        taken with the rest."""
        if timeout_s > 0:
            if wake_on_frame:
                self._waitset.wait(duration(seconds=timeout_s))
            else:
                time.sleep(timeout_s)
        # take() also hands out InvalidSample for instance state changes (the last writer of the keyless topic in a
        # partition gone, a dispose): not frames (reported by helper C: one crashed a member's mesh thread)
        frames = [f for reader in self._readers for f in reader.take(N=256) if isinstance(f, Frame)]
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
        for condition in self._conditions:
            self._waitset.detach(condition)
