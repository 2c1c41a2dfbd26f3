"""Cyclone DDS binding of the mesh: one DDS domain per site (never the robot's ROS graph), one topic of signed
frames, reliable and volatile. Optional test hook: drop frames from chosen senders (a partition on this member)."""

from __future__ import annotations

from collections.abc import Iterable

from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from sigma_swarm.wire import FRAME_TOPIC, Frame

LOCALHOST_CONFIG = """<CycloneDDS><Domain id="any">
  <General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General>
  <Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex>
    <Peers><Peer address="127.0.0.1"/></Peers></Discovery>
</Domain></CycloneDDS>"""


_CONFIGURED: dict[int, Domain] = {}


def frame_qos(depth: int = 256) -> Qos:
    """Reliable, volatile, keep-last: a late joiner needs no history; a slow reader never blocks the writer long."""
    return Qos(Policy.Reliability.Reliable(duration(milliseconds=100)), Policy.Durability.Volatile,
               Policy.History.KeepLast(depth))


class DdsTransport:
    """Publish and receive ``Frame`` samples on the site's swarm domain."""

    def __init__(self, domain_id: int, localhost_only: bool = False) -> None:
        if localhost_only and domain_id not in _CONFIGURED:
            # The Domain object must outlive the participants (it carries the configuration); one per process.
            _CONFIGURED[domain_id] = Domain(domain_id, LOCALHOST_CONFIG)
        self.participant = DomainParticipant(domain_id)
        topic = Topic(self.participant, FRAME_TOPIC, Frame)
        self.writer = DataWriter(self.participant, topic, frame_qos())
        self.reader = DataReader(self.participant, topic, frame_qos())
        self._condition = ReadCondition(self.reader, ViewState.Any | SampleState.Any | InstanceState.Any)
        self._waitset = WaitSet(self.participant)
        self._waitset.attach(self._condition)
        self.blocked: set[str] = set()
        self.blocked_count = 0

    def publish(self, frame: Frame) -> None:
        self.writer.write(frame)

    def receive(self, timeout_s: float) -> list[Frame]:
        """Frames that arrived, waiting up to ``timeout_s`` for the first one."""
        if timeout_s > 0:
            self._waitset.wait(duration(seconds=timeout_s))
        frames = self.reader.take(N=256)
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
