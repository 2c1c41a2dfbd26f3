"""What the policy needs of a rule: one pure evaluation of the latest inputs at a given time."""

from __future__ import annotations

from typing import Protocol

from sigma_safety.core.model import RuleOutput, Snapshot


class Rule(Protocol):
    """A safety rule: reads the input snapshot, returns the faults it sees and the limits it imposes."""

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Conclude from ``snap`` at ``now`` (seconds on the caller's monotonic clock)."""
        ...
