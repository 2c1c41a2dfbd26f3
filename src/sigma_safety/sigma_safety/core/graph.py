"""Who may publish what on the robot's graph: pure checks over snapshots of the ROS graph.

The node shells read the graph (``get_publishers_info_by_topic``) and hand over plain tuples; these functions decide.
Graph introspection sees node names, which any process can choose: a second publisher under the allowed name is
therefore foreign too, and on full ROS installs SROS2 permissions (``config/sros2/``) make the rule cryptographic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """One publisher seen on the graph: its node's namespace and name, and its endpoint GID."""

    namespace: str
    node: str
    gid: bytes = b""

    @property
    def fqn(self) -> str:
        """Fully qualified node name, e.g. ``/r1/command_gate``."""
        return f"{self.namespace.rstrip('/')}/{self.node}"


# rmw's placeholders while a discovered endpoint's node (participant user data) has not been matched to a name yet
UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"
UNKNOWN_NAMESPACE = "_NODE_NAMESPACE_UNKNOWN_"
# [s] how long a publisher may stay unidentified before it counts as foreign: DDS announces endpoints before the
# node names that own them, so the gate in another process is briefly "unknown" at start-up (seen on a loaded host)
IDENTIFY_GRACE = 3.0


def unidentified(p: Endpoint) -> bool:
    """The graph has this endpoint but not (yet) the name of its node."""
    return p.node == UNKNOWN_NODE or p.namespace == UNKNOWN_NAMESPACE


class ForeignPublisherWatch:
    """Foreign publishers per topic over successive graph snapshots: a named foreign node at once; an endpoint whose
    node is not identified yet only once it stayed so for ``grace`` seconds (an impostor cannot hide behind the
    placeholder for longer than that). Time is passed in."""

    def __init__(self, grace: float = IDENTIFY_GRACE) -> None:
        self.grace = grace
        self._first_seen: dict[tuple[str, bytes], float] = {}

    def check(self, topic: str, publishers: Sequence[Endpoint], allowed: str, now: float) -> tuple[str, ...]:
        """The foreign publishers of ``topic`` to report now (see ``foreign_publishers``)."""
        named = [p for p in publishers if not unidentified(p)]
        pending = {(topic, p.gid): p for p in publishers if unidentified(p)}
        for key in [k for k in self._first_seen if k[0] == topic and k not in pending]:
            del self._first_seen[key]
        late = []
        for key in pending:
            since = self._first_seen.setdefault(key, now)
            if now - since >= self.grace:
                late.append(f"an unidentified node (for {now - since:.1f} s)")
        return tuple(sorted((*foreign_publishers(named, allowed), *late)))


def foreign_publishers(publishers: Sequence[Endpoint], allowed: str) -> tuple[str, ...]:
    """Names of every publisher other than the one allowed node (``allowed`` is a fully qualified node name).

    One publisher under the allowed name is expected; any further one under that name is an impostor and is
    reported as ``"<name> (duplicate)"``, because node names are not authenticated.
    """
    out: list[str] = []
    seen_allowed = False
    for p in publishers:
        if p.fqn == allowed and not seen_allowed:
            seen_allowed = True
        elif p.fqn == allowed:
            out.append(f"{p.fqn} (duplicate)")
        else:
            out.append(p.fqn)
    return tuple(sorted(out))


@dataclass(frozen=True)
class SourceCheck:
    """Outcome of checking a topic's publishers: the one GID to trust (None = trust nobody) and why."""

    gid: bytes | None
    reason: str


def trusted_source(publishers: Sequence[Endpoint], allowed: str) -> SourceCheck:
    """The GID to follow when ``allowed`` is the topic's only publisher; otherwise nobody, with the reason."""
    if not publishers:
        return SourceCheck(None, f"no publisher yet (expecting {allowed})")
    foreign = foreign_publishers(publishers, allowed)
    if foreign:
        return SourceCheck(None, f"published by {', '.join(foreign)}, not only by {allowed}")
    return SourceCheck(publishers[0].gid or None, f"only {allowed} publishes it")
