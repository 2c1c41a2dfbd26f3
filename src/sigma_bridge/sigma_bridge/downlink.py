"""Downlink: which cloud decisions reach the robot graph, and the acknowledgement each one gets.

Authentication: decisions are only fetched over the robot's signed device requests (the cloud answers only the
robot it authenticated); each decision must still name this robot. Expiry: a decision past its deadline is
never relayed and is acknowledged ``expired``. Duplicates (a decision fetched again before its ack landed) are
relayed once. No clock of its own: time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sigma_protocol import DECISION_SOURCES, Decision

VALID_SOURCES = DECISION_SOURCES  # CognitionDecision.SOURCE_*


@dataclass(frozen=True)
class Verdict:
    """``relay`` (publish then ack ``applied``), ``expired``, ``rejected`` (ack with ``detail``) or ``repeat``."""

    action: str
    detail: str = ""


class DecisionFilter:
    """Checks each downlinked decision for this robot; remembers the last ``memory`` decision ids."""

    def __init__(self, robot_id: str, memory: int = 4096) -> None:
        self.robot_id = robot_id
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._memory = memory

    def check(self, d: Decision, now: float) -> Verdict:
        """Decide what to do with ``d`` at UNIX time ``now``."""
        if d.decision_id in self._seen:
            return Verdict("repeat", self._seen[d.decision_id])
        if d.robot_id != self.robot_id:
            v = Verdict("rejected", f"decision is for robot {d.robot_id!r}, this is {self.robot_id!r}")
        elif d.expired(now):
            v = Verdict("expired", f"deadline {d.deadline:.3f} passed at {now:.3f}")
        elif d.source not in VALID_SOURCES:
            v = Verdict("rejected", f"unknown source {d.source}; one of {VALID_SOURCES}")
        elif not 0.0 <= d.confidence <= 1.0:
            v = Verdict("rejected", f"confidence {d.confidence} outside [0, 1]")
        elif not d.action:
            v = Verdict("rejected", "empty action")
        else:
            v = Verdict("relay")
        self._seen[d.decision_id] = v.action
        while len(self._seen) > self._memory:
            self._seen.popitem(last=False)
        return v

    def ack_status(self, v: Verdict) -> str:
        """The protocol ack status for a verdict."""
        return {"relay": "applied", "expired": "expired", "rejected": "rejected"}[v.action]
