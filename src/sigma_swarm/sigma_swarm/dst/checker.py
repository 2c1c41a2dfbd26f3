"""Invariants checked after every simulation step, from the simulator's global view (ground truth the members
never see: true time, every member's state, every message delivered)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sigma_swarm.core import NEVER, LeaderCommand, Member, Role


class InvariantError(AssertionError):
    """An invariant broke; the message names it, the member(s), the term and the simulated time."""


@dataclass
class Checker:
    """Safety invariants (after every step) and the liveness bound (after faults stop)."""

    to_true: Callable[[str, float], float]  # member id, local time -> true time
    leader_of_term: dict[int, str] = field(default_factory=dict)
    last_term: dict[str, int] = field(default_factory=dict)
    max_leader_term_seen: dict[str, int] = field(default_factory=dict)
    lease_holders: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (term, lease end, true)
    commands_accepted: int = 0
    checks: int = 0

    def delivered(self, member: Member, message: object) -> None:
        """Record a message handed to ``member``: a leader's message of a newer term counts as seen."""
        if isinstance(message, LeaderCommand) or type(message).__name__ == "LeaderHeartbeat":
            term = message.term  # type: ignore[attr-defined]  # narrowed by the check above
            if message.roster_version >= member.roster.version:  # type: ignore[attr-defined]  # as above
                self.max_leader_term_seen[member.id] = max(self.max_leader_term_seen.get(member.id, 0), term)

    def accepted(self, member: Member, commands: Iterable[LeaderCommand], now: float) -> None:
        """Fencing: a command is accepted only if no newer term was seen before it arrived."""
        for cmd in commands:
            self.commands_accepted += 1
            seen = max(self.last_term.get(member.id, 0), self.max_leader_term_seen.get(member.id, 0))
            if cmd.term < seen:
                raise InvariantError(f"t={now:.4f}: {member.id} accepted a command of term {cmd.term} "
                                     f"from {cmd.sender} after it had seen term {seen}")

    def after_step(self, member: Member, up: Callable[[str], bool], local_now: float, now: float) -> None:
        """After ``member`` stepped: its term never goes back, one leader per term, one valid lease at a time.

        Only the member that stepped can have changed, so only it is re-examined; leases of the others are kept
        with their end in true time and expire on their own.
        """
        self.checks += 1
        m = member
        previous = self.last_term.get(m.id, 0)
        if m.term < previous:
            raise InvariantError(f"t={now:.4f}: {m.id}'s term went back from {previous} to {m.term}")
        self.last_term[m.id] = m.term
        if m.role is Role.LEADER:
            owner = self.leader_of_term.setdefault(m.term, m.id)
            if owner != m.id:
                raise InvariantError(f"t={now:.4f}: two leaders in term {m.term}: {owner} and {m.id}")
        if m.lease_until > NEVER and m.lease_valid(local_now):
            self.lease_holders[m.id] = (m.term, self.to_true(m.id, m.lease_until))
        else:
            self.lease_holders.pop(m.id, None)
        for other in [i for i, (_, end) in self.lease_holders.items() if end <= now or not up(i)]:
            del self.lease_holders[other]
        if len(self.lease_holders) > 1:
            desc = ", ".join(f"{i} (term {t}, lease to t={e:.4f})" for i, (t, e) in self.lease_holders.items())
            raise InvariantError(f"t={now:.4f}: overlapping valid leader leases: {desc}")
