"""One member of a site's swarm: Raft-style election with pre-vote, leader lease, term fencing, failure detection.

Sans-I/O: ``handle(message, now)`` and ``tick(now)`` take time from the caller and return what to send and which
fenced leader commands were accepted; ``next_deadline()`` says when ``tick`` must run next. No sockets, no clock,
no threads: the same object runs over Cyclone DDS (``sigma_swarm.runtime``) and inside the deterministic simulator
(``sigma_swarm.dst``). See docs/swarm.md for the protocol and the proof sketch of each invariant.

Durable state (``durable``: term, vote, roster version) must be written to stable storage by the shell before it
sends the returned messages; everything else is volatile and safely lost in a crash.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sigma_swarm.core.messages import (
    HeartbeatAck,
    LeaderCommand,
    LeaderHeartbeat,
    MemberBroadcast,
    MemberHeartbeat,
    MemberReport,
    Message,
    PreVoteRequest,
    PreVoteResponse,
    Send,
    VoteRequest,
    VoteResponse,
)
from sigma_swarm.core.params import ElectionParams

NEVER = -math.inf
MASK_MEMBERS = 63  # roster positions a heartbeat's ack_mask can name (int64, sign bit unused); larger: all ack
SCHED_DELAY_DECAY = 0.05  # s of remembered timer lateness forgotten per s


class Role(str, Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True)
class Roster:
    """The site's members (robot ids) at one roster version (signed by the cloud; see sigma_swarm.roster)."""

    version: int
    members: frozenset[str]


@dataclass(frozen=True)
class Durable:
    """What must survive a restart: Raft's currentTerm and votedFor ("" = none), and an uncommitted roster change
    (the previous roster's members, for the joint quorum, with the version they were replaced at)."""

    term: int = 0
    voted_for: str = ""
    transition_version: int = 0
    prev_members: frozenset[str] = frozenset()


@dataclass
class Output:
    """Result of one step: messages to send and fenced leader commands accepted for the application."""

    sends: list[Send] = field(default_factory=list)
    commands: list[LeaderCommand] = field(default_factory=list)
    reports: list[MemberReport] = field(default_factory=list)  # members' reports to this member while it leads
    broadcasts: list[MemberBroadcast] = field(default_factory=list)  # other members' broadcasts (no leader needed)


@dataclass(frozen=True)
class SwarmStatus:
    """What ``swarm/state`` publishes: own role, term, known leader ("" = none), live members, roster version."""

    robot_id: str
    role: Role
    term: int
    leader: str
    lease_valid: bool
    members: tuple[str, ...]
    suspected: tuple[str, ...]
    roster_version: int
    roster_transition: bool


def _ranks(roster: Roster) -> dict[str, int]:
    """Each member's position in the sorted roster: its bit in a heartbeat's ``ack_mask``."""
    return {member: rank for rank, member in enumerate(sorted(roster.members))}


def succession_order(term: int, members: frozenset[str]) -> tuple[str, ...]:
    """The order in which the members of ``members`` succeed a leader of ``term``: a shuffle drawn from the term
    (the same on every member, a new one each term), so no robot is always first and no message has to say it."""
    def key(member: str) -> bytes:
        return hashlib.blake2b(f"{term}/{member}".encode(), digest_size=8).digest()
    return tuple(sorted(members, key=key))


def _majority(ids: set[str], of: frozenset[str]) -> bool:
    return len(ids & of) > len(of) // 2


class Member:
    """The election and membership state machine of one robot."""

    def __init__(self, robot_id: str, roster: Roster, params: ElectionParams, rng: random.Random, now: float,
                 durable: Durable | None = None) -> None:
        self.id = robot_id
        self.params = params
        self.rng = rng
        self.roster = roster
        self._rank = _ranks(roster)
        durable = durable or Durable()
        # Joint quorum while a roster change is not committed; a restart in the middle of one keeps it.
        self.prev_members: frozenset[str] | None = (
            durable.prev_members if durable.transition_version == roster.version and durable.prev_members else None)
        self.roster_adopted_at = now
        self.term = durable.term
        self.voted_for = durable.voted_for
        self.role = Role.FOLLOWER
        self.leader = ""
        self.counters: Counter[str] = Counter()
        self.roster_stale = False  # a peer announced a newer roster: the shell should refresh it
        self._last_leader_contact = NEVER
        # A restarted member may have acknowledged a leader just before it crashed: it neither votes nor stands for
        # election for one minimum election timeout, so that leader's lease stays exclusive.
        self._quiet_until = now + params.election_timeout_min_s
        self._backoff = 1.0  # grows x2 per election round that ended without a leader (bounded), 1 once one is heard
        self._round_open = False  # we started a (pre-)vote round and have heard no leader since
        # How late our own timers ran recently (a starved process): added to the election timeout and to the time
        # votes are refused after hearing a leader, so a host that starves everyone does not look like a dead leader.
        self._sched_delay = 0.0
        # How late our leader's heartbeats arrived recently beyond their period (a starved leader, a loaded host):
        # like our own lateness, it lengthens our election timeout and vote refusal (round 4).
        self._leader_late = 0.0
        self._last_tick = now
        self._election_deadline = now + self._random_timeout()
        self._votes: set[str] = set()
        self._leader_since = NEVER
        self._lease_until = NEVER
        self._quorum_at = NEVER  # send time of the newest heartbeat round a majority acknowledged (leader only)
        self._hb_seq = 0
        self._acked_seq = -1  # newest heartbeat round a majority acknowledged (leader only; -1: none yet)
        self._hb_sent: dict[int, float] = {}
        self._hb_acks: dict[int, set[str]] = {}
        self._next_hb = NEVER
        self._next_member_hb = now + rng.uniform(0.0, params.member_heartbeat_interval_s)
        self._last_heard: dict[str, float] = {}
        self._peer_versions: dict[str, tuple[int, bool, int]] = {}  # roster version, settled, term
        self._cmd_seq = 0
        self._report_seq = 0
        self._broadcast_seq = 0
        self._last_cmd: tuple[int, int] = (0, 0)  # (term, seq) of the last accepted command
        self._succession: tuple[tuple[int, int], tuple[str, ...]] = ((-1, -1), ())  # (term, roster version), order

    # ------------------------------------------------------------------ queries

    @property
    def durable(self) -> Durable:
        if self.prev_members is None:
            return Durable(self.term, self.voted_for)
        return Durable(self.term, self.voted_for, self.roster.version, self.prev_members)

    def lease_valid(self, now: float) -> bool:
        """True while this member is leader and a majority acknowledged it within the lease."""
        return self.role is Role.LEADER and now < self._lease_until

    @property
    def awaiting_acks(self) -> bool:
        """False only while this member leads and its newest heartbeat round already has a majority of
        acknowledgements: until the next round, further acknowledgements renew nothing (a shell may then skip their
        signature checks; dropping a message is always safe)."""
        return not (self.role is Role.LEADER and self._hb_seq not in self._hb_sent)

    @property
    def heartbeat_sent_at(self) -> float:
        """Send time of this leader's newest heartbeat round while it still awaits its majority (-inf otherwise)."""
        return self._hb_sent.get(self._hb_seq, NEVER) if self.role is Role.LEADER else NEVER

    @property
    def lease_until(self) -> float:
        """End of the current lease on this member's clock (-inf when none)."""
        return self._lease_until if self.role is Role.LEADER else NEVER

    @property
    def election_deadline(self) -> float:
        """When this member stands for election unless it hears a leader first (inf while it leads)."""
        return math.inf if self.role is Role.LEADER else self._election_deadline

    def eligible(self) -> bool:
        """Only roster members vote and stand for election."""
        return self.id in self.roster.members

    def live_members(self, now: float) -> tuple[str, ...]:
        limit = self.params.suspicion_timeout_s
        live = {p for p, t in self._last_heard.items() if now - t <= limit and p in self.roster.members}
        if self.eligible():
            live.add(self.id)
        return tuple(sorted(live))

    def status(self, now: float) -> SwarmStatus:
        live = self.live_members(now)
        # A leader whose lease lapsed (e.g. on the minority side of a partition) says there is no leader.
        leader = (self.id if self.lease_valid(now) else "") if self.role is Role.LEADER else self.leader
        return SwarmStatus(self.id, self.role, self.term, leader, self.lease_valid(now), live,
                           tuple(sorted(self.roster.members - set(live))), self.roster.version,
                           self.prev_members is not None)

    def next_deadline(self) -> float:
        """The time ``tick`` must be called at, at the latest."""
        deadlines = [self._next_member_hb]
        if self.role is Role.LEADER:
            deadlines.append(self._next_hb)
            deadlines.append(self._step_down_at())
        elif self.eligible():
            deadlines.append(self._election_deadline)
        return min(deadlines)

    # ------------------------------------------------------------------ leader-only work

    def leader_command(self, kind: str, payload: bytes, now: float) -> Send | None:
        """A fenced command carrying the current term, or None unless this member leads with a valid lease."""
        if not self.lease_valid(now):
            return None
        self._cmd_seq += 1
        return Send(LeaderCommand(self.id, self.term, self.roster.version, self._cmd_seq, kind, payload))

    def member_report(self, kind: str, payload: bytes, now: float) -> Send | None:
        """A report addressed to the leader this member follows, or None when it knows none (or leads itself)."""
        leader = self.status(now).leader
        if not leader or leader == self.id:
            return None
        self._report_seq += 1
        return Send(MemberReport(self.id, self.term, self.roster.version, leader, self._report_seq, kind, payload),
                    to=leader)

    def member_broadcast(self, kind: str, payload: bytes) -> Send:
        """An application message from this member to every member (no leader needed, not fenced)."""
        self._broadcast_seq += 1
        return Send(MemberBroadcast(self.id, self.term, self.roster.version, self._broadcast_seq, kind, payload))

    # ------------------------------------------------------------------ roster

    def set_roster(self, roster: Roster, now: float) -> bool:
        """Adopt a newer roster (already verified by the caller). Returns False for an old or equal version.

        Until a majority of the previous roster has announced the new version (settled), every quorum must be a
        majority of both the old and the new roster, so two leaders cannot come from disjoint majorities.
        """
        if roster.version <= self.roster.version:
            return False
        self.prev_members = self.roster.members
        self.roster = roster
        self._rank = _ranks(roster)
        self.roster_adopted_at = now
        self.roster_stale = False
        self._quiet_until = max(self._quiet_until, now + self.params.election_timeout_min_s)
        if self.role is not Role.FOLLOWER:
            self._become_follower(now)
        self._last_heard = {p: t for p, t in self._last_heard.items() if p in roster.members}
        return True

    def _settled(self, now: float) -> bool:
        return now >= self.roster_adopted_at + self.params.election_timeout_min_s

    def _quorum(self, ids: set[str]) -> bool:
        if not _majority(ids, self.roster.members):
            return False
        return self.prev_members is None or _majority(ids, self.prev_members)

    def _check_roster_commit(self, now: float) -> None:
        if self.prev_members is None or not self._settled(now):
            return
        version = self.roster.version
        done = {p for p, (v, settled, _) in self._peer_versions.items() if v > version or (v == version and settled)}
        done.add(self.id)
        if _majority(done, self.prev_members):
            # Any leader the old roster elected was voted for by a majority of it, which meets `done`: adopting their
            # highest term makes every election we take part in from now on use a newer term (found by the DST: a
            # new-roster-only majority could otherwise re-elect in a term an old-roster leader already had).
            newest = max(self._peer_versions[p][2] for p in done if p in self._peer_versions) if len(done) > 1 else 0
            if newest > self.term:
                self._adopt_term(newest, now)
            self.prev_members = None

    # ------------------------------------------------------------------ steps

    def tick(self, now: float) -> Output:
        """Run timers due at ``now``."""
        out = Output()
        self._note_lateness(now)
        self._check_roster_commit(now)
        if self.role is Role.LEADER:
            if now >= self._step_down_at():
                self.counters["lease_lost"] += 1
                self._become_follower(now)
            elif now >= self._next_hb:
                self._send_heartbeat(now, out)
        elif self.eligible() and now >= self._election_deadline:
            self._start_pre_vote(now, out)
        if now >= self._next_member_hb:
            out.sends.append(Send(MemberHeartbeat(self.id, self.term, self.roster.version,
                                                  self.status(now).leader, self._settled(now))))
            self._next_member_hb = now + self.params.member_heartbeat_interval_s
        return out

    def handle(self, msg: Message, now: float) -> Output:
        """Process one (already authenticated) message."""
        out = Output()
        sender = msg.sender
        if sender == self.id:
            return out
        if sender not in self.roster.members:
            self.counters["not_in_roster"] += 1
            return out
        self._last_heard[sender] = now
        if msg.roster_version > self.roster.version:
            self.roster_stale = True
        handler = _HANDLERS[type(msg)]
        handler(self, msg, now, out)
        return out

    # ------------------------------------------------------------------ handlers

    def _on_member_heartbeat(self, msg: MemberHeartbeat, now: float, out: Output) -> None:
        self._peer_versions[msg.sender] = (msg.roster_version, msg.settled, msg.term)

    def _sticky(self, now: float) -> bool:
        """True while a leader was heard recently (or right after boot / a roster change): votes are refused."""
        return (now < self._last_leader_contact + self.params.election_timeout_min_s + self._allowance
                or now < self._quiet_until)

    def _refuse_old_roster(self, msg: Message) -> bool:
        if msg.roster_version < self.roster.version:
            self.counters["old_roster_version"] += 1
            return True
        return False

    def _on_pre_vote_request(self, msg: PreVoteRequest, now: float, out: Output) -> None:
        granted = (self.eligible() and not self._refuse_old_roster(msg) and msg.term > self.term
                   and not self._sticky(now))
        if granted and self.role is Role.PRE_CANDIDATE and msg.term == self.term + 1 and self._outranks(msg.sender):
            # A successor ahead of us in the term's order is standing for the same term: step back rather than
            # split the votes with it (round 23). It only delays our own round; if that member fails, our
            # timeout runs out again.
            self._become_follower(now)
            self._round_open = False
            self._election_deadline = now + self._random_timeout()
            self.counters["pre_vote_yielded"] += 1
        out.sends.append(Send(PreVoteResponse(self.id, msg.term if granted else self.term, self.roster.version,
                                              msg.sender, granted), to=msg.sender))

    def _on_pre_vote_response(self, msg: PreVoteResponse, now: float, out: Output) -> None:
        if msg.to != self.id or self.role is not Role.PRE_CANDIDATE or not msg.granted or msg.term != self.term + 1:
            return
        self._votes.add(msg.sender)
        if self._quorum(self._votes):
            self._become_candidate(now, out)

    def _on_vote_request(self, msg: VoteRequest, now: float, out: Output) -> None:
        if not self.eligible() or self._refuse_old_roster(msg):
            return
        if self._sticky(now):
            self.counters["vote_refused_leader_alive"] += 1
            return
        if msg.term < self.term:
            out.sends.append(Send(VoteResponse(self.id, self.term, self.roster.version, msg.sender, False),
                                  to=msg.sender))
            return
        if msg.term > self.term:
            self._adopt_term(msg.term, now)
        granted = self.voted_for in ("", msg.sender)
        if granted:
            self.voted_for = msg.sender
            self._election_deadline = now + self._random_timeout()
        out.sends.append(Send(VoteResponse(self.id, self.term, self.roster.version, msg.sender, granted),
                              to=msg.sender))

    def _on_vote_response(self, msg: VoteResponse, now: float, out: Output) -> None:
        if msg.term > self.term:
            self._adopt_term(msg.term, now)
            return
        if msg.to != self.id or self.role is not Role.CANDIDATE or msg.term != self.term or not msg.granted:
            return
        self._votes.add(msg.sender)
        if self._quorum(self._votes):
            self._become_leader(now, out)

    def _accept_leader(self, msg: LeaderHeartbeat | LeaderCommand, now: float) -> bool:
        """Common term/fencing rules for messages only a leader sends; True when ``msg`` comes from our leader."""
        if self._refuse_old_roster(msg):
            return False
        if msg.term < self.term:
            self.counters["stale_term"] += 1
            return False
        if msg.term > self.term:
            self._adopt_term(msg.term, now)
        if self.role is Role.LEADER:
            self.counters["conflicting_leader"] += 1  # cannot happen with one vote per term; counted if it does
            return False
        if self.leader and self.leader != msg.sender:
            self.counters["conflicting_leader"] += 1
            return False
        if self.role is not Role.FOLLOWER:
            self.role = Role.FOLLOWER
            self._votes = set()
        self.leader = msg.sender
        self._last_leader_contact = now
        self._backoff, self._round_open = 1.0, False
        self._election_deadline = now + self._follower_timeout(now)
        return True

    @property
    def _allowance(self) -> float:
        """Extra time before suspecting the leader: our own recent timer lateness or our leader's, the larger."""
        return max(self._sched_delay, self._leader_late)

    def _note_leader_gap(self, now: float) -> None:
        """A heartbeat from the leader we follow, in its term: remember how far past its period it came (decaying
        like our own lateness, bounded likewise). Safety does not depend on it (waiting longer is always safe)."""
        gap = now - self._last_leader_contact
        excess = gap - self.params.heartbeat_interval_s
        decayed = self._leader_late - gap * SCHED_DELAY_DECAY
        self._leader_late = min(max(excess, decayed, 0.0), self.params.election_timeout_max_s * 4)

    def _on_leader_heartbeat(self, msg: LeaderHeartbeat, now: float, out: Output) -> None:
        if msg.sender == self.leader and msg.term == self.term and self.role is Role.FOLLOWER:
            self._note_leader_gap(now)
        if msg.term < self.term and msg.roster_version >= self.roster.version:
            # Tell a stale leader our term so it steps down (as etcd does with pre-vote + check-quorum); otherwise
            # members that moved to a newer term in a failed election could never rejoin its followers.
            self.counters["stale_term"] += 1
            out.sends.append(Send(HeartbeatAck(self.id, self.term, self.roster.version, msg.sender, msg.seq),
                                  to=msg.sender))
            return
        if self._accept_leader(msg, now) and self._asked(msg):
            out.sends.append(Send(HeartbeatAck(self.id, self.term, self.roster.version, msg.sender, msg.seq),
                                  to=msg.sender))

    def _asked(self, msg: LeaderHeartbeat) -> bool:
        """Whether the leader asked this member to acknowledge ``msg``. A mask read against another roster version
        than the leader's (or naming no one) asks everybody: an acknowledgement too many is always harmless."""
        if not msg.ack_mask or msg.roster_version != self.roster.version:
            return True
        rank = self._rank.get(self.id)
        return rank is None or bool(msg.ack_mask >> rank & 1)

    def _on_heartbeat_ack(self, msg: HeartbeatAck, now: float, out: Output) -> None:
        if msg.term > self.term:
            self._adopt_term(msg.term, now)
            return
        if msg.to != self.id or self.role is not Role.LEADER or msg.term != self.term:
            return
        sent = self._hb_sent.get(msg.seq)
        if sent is None:
            return
        acks = self._hb_acks.setdefault(msg.seq, {self.id})
        acks.add(msg.sender)
        if self._quorum(acks):
            self._lease_until = max(self._lease_until, sent + self.params.lease_s)
            self._quorum_at = max(self._quorum_at, sent)
            self._acked_seq = max(self._acked_seq, msg.seq)
            for seq in [s for s in self._hb_sent if s <= msg.seq]:
                del self._hb_sent[seq]
                self._hb_acks.pop(seq, None)

    def _on_member_report(self, msg: MemberReport, now: float, out: Output) -> None:
        if msg.to != self.id or not self.lease_valid(now):
            self.counters["report_not_leader"] += 1  # the member re-sends to whoever leads next
            return
        out.reports.append(msg)

    def _on_member_broadcast(self, msg: MemberBroadcast, now: float, out: Output) -> None:
        self.counters["broadcast_received"] += 1
        out.broadcasts.append(msg)

    def _on_leader_command(self, msg: LeaderCommand, now: float, out: Output) -> None:
        if not self._accept_leader(msg, now):
            self.counters["command_rejected"] += 1
            return
        if (msg.term, msg.seq) <= self._last_cmd:
            self.counters["command_duplicate"] += 1
            return
        self._last_cmd = (msg.term, msg.seq)
        out.commands.append(msg)

    # ------------------------------------------------------------------ transitions

    def _random_timeout(self) -> float:
        """Raft's randomized election timeout, its range scaled by the current backoff factor."""
        p = self.params
        return self._backoff * self.rng.uniform(p.election_timeout_min_s, p.election_timeout_max_s) \
            + 2 * self._allowance

    def _order(self) -> tuple[str, ...]:
        """The current term's succession order of the roster (cached per term and roster version)."""
        key = (self.term, self.roster.version)
        if self._succession[0] != key:
            self._succession = (key, succession_order(self.term, self.roster.members))
        return self._succession[1]

    def successor_rank(self, now: float) -> int | None:
        """This member's place among the live followers of the current leader in the term's succession order
        (0 = first; None = not a voter). Live = heard within the suspicion timeout; the leader itself is skipped."""
        horizon = now - self.params.suspicion_timeout_s
        rank = 0
        for peer in self._order():
            if peer == self.id:
                return rank
            if peer != self.leader and self._last_heard.get(peer, NEVER) >= horizon:
                rank += 1
        return None

    def _outranks(self, peer: str) -> bool:
        """True when ``peer`` comes before this member in the current term's succession order (stagger on)."""
        if self.params.election_stagger_s <= 0:
            return False
        order = self._order()
        return peer in order and self.id in order and order.index(peer) < order.index(self.id)

    def _follower_timeout(self, now: float) -> float:
        """The election timeout of a follower that just heard its leader: a successor slot (round 23).

        Plain randomized timeouts let two of many followers time out a few ms apart — closer than a vote's round trip
        on a loaded host, so the votes split (docs/swarm.md "Round 21"). Instead the first ``election_stagger_ranks``
        live followers in the term's succession order each get a slot ``election_stagger_s`` wide of their own
        (randomized within its first half), the rest draw from the randomized range moved past those slots. If the
        first successor is down or cannot win, the next one's slot comes one stagger later. Like every timeout it only
        decides *when* a member asks for votes, so no invariant depends on it (priority elections as in MongoDB's
        replica sets and ESCAPE, Wang et al. 2019, rest on the same property)."""
        p = self.params
        width, ranks = p.election_stagger_s, p.election_stagger_ranks
        if width <= 0:
            return self._random_timeout()
        rank = self.successor_rank(now)
        if rank is not None and rank < ranks:
            base = p.election_timeout_min_s + rank * width + self.rng.uniform(0.0, width / 2)
        else:
            base = self.rng.uniform(p.election_timeout_min_s, p.election_timeout_max_s) + ranks * width
        return base + 2 * self._allowance

    def _note_lateness(self, now: float) -> None:
        """Track how late this tick runs after its deadline (decaying by ``SCHED_DELAY_DECAY`` s per s), bounded."""
        late = max(0.0, now - self.next_deadline())
        decayed = self._sched_delay - (now - self._last_tick) * SCHED_DELAY_DECAY
        self._sched_delay = min(max(late, decayed, 0.0), self.params.election_timeout_max_s * 4)
        self._last_tick = now

    @property
    def sched_delay(self) -> float:
        """How late this member's own timers ran recently (s): its measure of being starved of CPU."""
        return self._sched_delay

    @property
    def leader_late(self) -> float:
        """How far past their period the followed leader's heartbeats arrived recently (s)."""
        return self._leader_late

    @property
    def backoff(self) -> float:
        """The current factor on the election timeout range (1 = none; grows after rounds without a leader)."""
        return self._backoff

    def _adopt_term(self, term: int, now: float) -> None:
        was_leading = self.role is not Role.FOLLOWER
        self.term = term
        self.voted_for = ""
        self.leader = ""
        if was_leading:
            self._become_follower(now)

    def _become_follower(self, now: float) -> None:
        if self.role is Role.LEADER:
            self._election_deadline = now + self._random_timeout()
        self.role = Role.FOLLOWER
        self.leader = ""
        self._votes = set()
        self._lease_until = NEVER
        self._hb_sent.clear()
        self._hb_acks.clear()

    def _start_pre_vote(self, now: float, out: Output) -> None:
        if self._round_open:
            # Our last (pre-)vote round ended without a leader (we may have become a follower of a newer term
            # meanwhile): split votes, or answers slower than our timeout (a CPU-starved host). Doubling the range
            # spreads the candidates apart and lets a slow round finish before it is abandoned.
            self._backoff = min(self._backoff * 2, self.params.election_backoff_max)
            self.counters["election_backoff"] += 1
        self._round_open = True
        self.role = Role.PRE_CANDIDATE
        self.leader = ""
        self._votes = {self.id}
        self._election_deadline = now + self._random_timeout()
        self.counters["pre_votes"] += 1
        if self._quorum(self._votes):
            self._become_candidate(now, out)
            return
        out.sends.append(Send(PreVoteRequest(self.id, self.term + 1, self.roster.version)))

    def _become_candidate(self, now: float, out: Output) -> None:
        self.term += 1
        self.voted_for = self.id
        self.role = Role.CANDIDATE
        self._votes = {self.id}
        self._election_deadline = now + self._random_timeout()
        self.counters["elections"] += 1
        if self._quorum(self._votes):
            self._become_leader(now, out)
            return
        out.sends.append(Send(VoteRequest(self.id, self.term, self.roster.version)))

    def _become_leader(self, now: float, out: Output) -> None:
        self.role = Role.LEADER
        self.leader = self.id
        self._leader_since = self._quorum_at = now
        self._lease_until = NEVER
        self._acked_seq = -1
        self._hb_sent.clear()
        self._hb_acks.clear()
        self.counters["became_leader"] += 1
        self._backoff, self._round_open = 1.0, False
        self._send_heartbeat(now, out)

    def _step_down_at(self) -> float:
        """Check-quorum (as etcd): a leader no majority has acknowledged for one maximum election timeout steps down.

        Decoupled from the lease: a lapsed lease only stops the leader's commands (``leader_command`` is None and its
        status names no leader) until acknowledgements are back; a starved leader whose acknowledgements arrive a bit
        late keeps its role instead of forcing a new election. Like the followers' timeouts, the window grows by twice
        this member's recent timer lateness (a starved leader also reads its acknowledgements late)."""
        return self._quorum_at + self.params.election_timeout_max_s + 2 * self._sched_delay

    def _ack_mask(self, now: float) -> int:
        """Which followers the next heartbeat asks to acknowledge (``LeaderHeartbeat.ack_mask``; 0 = every one).

        A majority needs ``n // 2`` followers beside this leader; ``ack_margin`` of that more (at least one) are
        asked, rotating round by round over the followers heard within the suspicion timeout, so that a few of them
        may crash or lose their answer without costing the round its majority. Every follower is asked for a new
        leader's first round, after a round that did not get its majority in time (then the next one cannot fail
        for want of asking), and during a roster change (the joint quorum). Fewer acknowledgements are only fewer
        messages: the lease still counts from acknowledgements actually received, and a follower that was not
        asked still refuses votes after hearing the heartbeat, so no invariant depends on this choice."""
        if self.prev_members is not None or self._acked_seq != self._hb_seq or len(self._rank) > MASK_MEMBERS:
            return 0
        need = len(self.roster.members) // 2
        ask = need + max(1, math.ceil(need * self.params.ack_margin))
        horizon = now - self.params.suspicion_timeout_s
        live = [p for p in self._rank if p != self.id and self._last_heard.get(p, NEVER) >= horizon]
        if ask >= len(live):
            return 0
        start = self._hb_seq % len(live)
        mask = 0
        for peer in (live[start:] + live[:start])[:ask]:
            mask |= 1 << self._rank[peer]
        return mask

    def _send_heartbeat(self, now: float, out: Output) -> None:
        mask = self._ack_mask(now)
        self._hb_seq += 1
        self._hb_sent[self._hb_seq] = now
        self._hb_acks[self._hb_seq] = {self.id}
        horizon = now - 2 * self.params.election_timeout_max_s
        for seq in [s for s, t in self._hb_sent.items() if t < horizon]:
            del self._hb_sent[seq]
            self._hb_acks.pop(seq, None)
        self._last_leader_contact = now
        self._next_hb = now + self.params.heartbeat_interval_s
        out.sends.append(Send(LeaderHeartbeat(self.id, self.term, self.roster.version, self._hb_seq, mask)))
        if self._quorum({self.id}):  # a roster of one leads alone
            self._lease_until = now + self.params.lease_s


# Each handler takes exactly the message type it is keyed by (hence Any for the message argument).
_HANDLERS: dict[type, Callable[[Member, Any, float, Output], None]] = {
    MemberHeartbeat: Member._on_member_heartbeat,
    PreVoteRequest: Member._on_pre_vote_request,
    PreVoteResponse: Member._on_pre_vote_response,
    VoteRequest: Member._on_vote_request,
    VoteResponse: Member._on_vote_response,
    LeaderHeartbeat: Member._on_leader_heartbeat,
    HeartbeatAck: Member._on_heartbeat_ack,
    LeaderCommand: Member._on_leader_command,
    MemberReport: Member._on_member_report,
    MemberBroadcast: Member._on_member_broadcast,
}
