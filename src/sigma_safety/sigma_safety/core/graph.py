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
