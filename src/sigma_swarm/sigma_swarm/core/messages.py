"""The mesh protocol's messages as plain frozen dataclasses (the wire codec maps them to typed IDL structs).

Every message names its sender, the sender's current term and the roster version it works with. Messages with
``to`` set are meant for one member; the rest are broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberHeartbeat:
    """Membership heartbeat every member broadcasts; ``settled`` = it has worked with this roster long enough."""

    sender: str
    term: int
    roster_version: int
    leader: str
    settled: bool


@dataclass(frozen=True)
class PreVoteRequest:
    """Raft pre-vote: "would you vote for me in ``term``?" Changes nobody's state."""

    sender: str
    term: int
    roster_version: int


@dataclass(frozen=True)
class PreVoteResponse:
    sender: str
    term: int
    roster_version: int
    to: str
    granted: bool


@dataclass(frozen=True)
class VoteRequest:
    sender: str
    term: int
    roster_version: int


@dataclass(frozen=True)
class VoteResponse:
    sender: str
    term: int
    roster_version: int
    to: str
    granted: bool


@dataclass(frozen=True)
class LeaderHeartbeat:
    """The leader's heartbeat; ``seq`` identifies the round so acknowledgements renew the lease from its send time.

    ``ack_mask`` (round 18) names the followers asked to acknowledge this round: bit i = the i-th member of the
    roster at ``roster_version``, sorted; 0 = every follower (also what a heartbeat without the field means)."""

    sender: str
    term: int
    roster_version: int
    seq: int
    ack_mask: int = 0


@dataclass(frozen=True)
class HeartbeatAck:
    sender: str
    term: int
    roster_version: int
    to: str
    seq: int


@dataclass(frozen=True)
class LeaderCommand:
    """Leader-only work, fenced by ``term``: followers reject it once they have seen a newer term."""

    sender: str
    term: int
    roster_version: int
    seq: int
    kind: str
    payload: bytes


@dataclass(frozen=True)
class MemberReport:
    """A member's application report to the leader it follows (e.g. its task status; sigma_fleet_tasks). The
    leader passes it on only while it leads: a report to a deposed leader is dropped, the member re-sends to the new
    one. Authenticated like every frame; not fenced (it is the member's own news, not an order)."""

    sender: str
    term: int
    roster_version: int
    to: str
    seq: int
    kind: str
    payload: bytes


@dataclass(frozen=True)
class MemberBroadcast:
    """A member's application message to every member (e.g. its traffic route; sigma_fleet_tasks). Needs no leader;
    authenticated like every frame (roster, signature, replay window); not fenced (the member's own news)."""

    sender: str
    term: int
    roster_version: int
    seq: int
    kind: str
    payload: bytes


Message = (MemberHeartbeat | PreVoteRequest | PreVoteResponse | VoteRequest | VoteResponse | LeaderHeartbeat
           | HeartbeatAck | LeaderCommand | MemberReport | MemberBroadcast)

MESSAGE_TYPES: tuple[type, ...] = (MemberHeartbeat, PreVoteRequest, PreVoteResponse, VoteRequest, VoteResponse,
                                   LeaderHeartbeat, HeartbeatAck, LeaderCommand, MemberReport, MemberBroadcast)


@dataclass(frozen=True)
class Send:
    """An outgoing message: to one member (``to``) or to every member (``to`` is None)."""

    message: Message
    to: str | None = None
