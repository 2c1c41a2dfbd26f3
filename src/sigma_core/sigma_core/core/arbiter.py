"""The onboard arbiter (runtime assurance, Simplex-style): Primary AI -> Edge AI -> mechanical fallback.

Each tick it picks exactly one commander among what the safety supervisor allows (``SafetyStatus.authority`` is the
highest authority allowed; the arbiter never widens it and does not re-implement the safety rules):

- **Primary AI** while its latest applied decision is a live lease (not past its deadline), confident enough, and
  safety allows AUTHORITY_PRIMARY_AI;
- **Edge AI** while its own confidence is high enough and safety allows AUTHORITY_EDGE_AI;
- else **mechanical fallback** (hold; safety engages the brakes when it is in fallback itself).

Downgrades happen on the first tick the higher level fails; upgrades only after the level has been continuously
eligible for ``upgrade_dwell``. Decisions are screened here: past their deadline, with an absurd deadline, out of
order (older stamp than the last applied), duplicated or malformed → never applied, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

from sigma_ros_common.params import param, require


class Mode(IntEnum):
    """Commander; values equal SafetyStatus.AUTHORITY_* (lower = higher in the chain)."""

    PRIMARY = 0
    EDGE = 1
    MECHANICAL = 2


NAMES = {Mode.PRIMARY: "primary_ai", Mode.EDGE: "edge_ai", Mode.MECHANICAL: "mechanical_fallback"}


@dataclass(frozen=True)
class ArbiterParams:
    """Thresholds of the arbiter."""

    primary_min_confidence: float = param(0.6, unit="1", low=0.0, high=1.0,
                                          description="Primary AI decisions below this confidence never command")
    edge_min_confidence: float = param(0.5, unit="1", low=0.0, high=1.0,
                                       description="Edge AI commands only with its own confidence at least this")
    upgrade_dwell: float = param(1.0, unit="s", low=0.0, high=60.0,
                                 description="a higher commander must stay eligible this long before it takes over")
    max_decision_horizon: float = param(60.0, unit="s", low=0.1, high=3600.0,
                                        description="decisions whose deadline is further ahead than this are refused")
    max_decision_age: float = param(5.0, unit="s", low=0.01, high=600.0,
                                    description="decisions stamped longer ago than this are refused (clock skew)")
    safety_max_age: float = param(0.5, unit="s", low=0.01, high=10.0,
                                  description="without a safety status this fresh nothing is allowed to command")

    def __post_init__(self) -> None:
        require(self.max_decision_horizon > 0, "max_decision_horizon must be > 0")


@dataclass(frozen=True)
class Decision:
    """A Primary AI decision as the arbiter screens it (times on the caller's clock)."""

    decision_id: str
    stamp: float
    deadline: float
    confidence: float
    source: int = 0


@dataclass(frozen=True)
class Verdict:
    applied: bool
    reason: str


@dataclass(frozen=True)
class Switch:
    """A change of commander, with why and how long after its trigger it was applied."""

    sequence: int
    at: float
    previous: Mode
    current: Mode
    reason: str
    trigger_delay: float
    decision_id: str = ""


@dataclass
class Arbiter:
    """State of the arbitration (pure: every call takes ``now``)."""

    params: ArbiterParams
    mode: Mode = Mode.MECHANICAL
    lease: Decision | None = None
    seen: dict[str, float] = field(default_factory=dict)
    eligible_since: dict[Mode, float | None] = field(default_factory=lambda: {Mode.PRIMARY: None, Mode.EDGE: None})
    sequence: int = 0
    time_in: dict[Mode, float] = field(default_factory=lambda: {m: 0.0 for m in Mode})
    last_now: float | None = None

    def screen(self, d: Decision, now: float) -> Verdict:
        """Check a Primary AI decision; an applied one becomes the lease (the caller then applies its content)."""
        p = self.params
        if d.source != 0:
            return Verdict(False, f"decision {d.decision_id}: source {d.source} is not the Primary AI")
        if not d.decision_id:
            return Verdict(False, "decision without an id")
        if d.decision_id in self.seen:
            return Verdict(False, f"decision {d.decision_id}: duplicate (first seen at {self.seen[d.decision_id]:.3f})")
        values = (d.stamp, d.deadline, d.confidence)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            return Verdict(False, f"decision {d.decision_id}: non-finite stamp/deadline/confidence {values}")
        self._remember(d.decision_id, now)
        if not 0.0 <= d.confidence <= 1.0:
            return Verdict(False, f"decision {d.decision_id}: confidence {d.confidence} outside [0, 1]")
        if now >= d.deadline:
            return Verdict(False, f"decision {d.decision_id}: past its deadline by {now - d.deadline:.3f} s")
        if d.deadline - now > p.max_decision_horizon:
            return Verdict(False, f"decision {d.decision_id}: deadline {d.deadline - now:.1f} s ahead exceeds "
                                  f"{p.max_decision_horizon} s")
        if now - d.stamp > p.max_decision_age or d.stamp - now > p.max_decision_age:
            return Verdict(False, f"decision {d.decision_id}: stamp {now - d.stamp:+.2f} s from now (max "
                                  f"{p.max_decision_age} s)")
        if self.lease is not None and d.stamp <= self.lease.stamp:
            return Verdict(False, f"decision {d.decision_id}: out of order (stamp not newer than "
                                  f"{self.lease.decision_id})")
        if d.confidence < p.primary_min_confidence:
            self.lease = None   # the Primary AI itself says it is unsure: its lease ends now
            return Verdict(False, f"decision {d.decision_id}: confidence {d.confidence:.2f} below "
                                  f"{p.primary_min_confidence}")
        self.lease = d
        return Verdict(True, "applied")

    def note(self, decision_id: str, now: float) -> None:
        """Remember a decision that is not applied (its content was refused), so a repeat is a duplicate; the lease
        is left as it is."""
        if decision_id and decision_id not in self.seen:
            self._remember(decision_id, now)

    def _remember(self, decision_id: str, now: float) -> None:
        self.seen[decision_id] = now
        if len(self.seen) > 4096:
            for key in list(self.seen)[:1024]:
                del self.seen[key]

    def _primary_block(self, now: float, allowed: Mode | None) -> str:
        d = self.lease
        if d is None:
            return "no live Primary AI decision"
        if now >= d.deadline:
            return f"Primary AI decision {d.decision_id} past its deadline by {now - d.deadline:.3f} s (not renewed)"
        if allowed is None or allowed > Mode.PRIMARY:
            return f"safety allows only {NAMES[allowed] if allowed is not None else 'nothing (status stale)'}"
        return ""

    def _edge_block(self, edge_confidence: float, edge_reasons: str, allowed: Mode | None) -> str:
        if allowed is None or allowed > Mode.EDGE:
            return f"safety allows only {NAMES[allowed] if allowed is not None else 'nothing (status stale)'}"
        if not edge_confidence >= self.params.edge_min_confidence:
            return f"edge confidence {edge_confidence:.2f} < {self.params.edge_min_confidence} ({edge_reasons})"
        return ""

    def step(self, now: float, safety_allowed: int | None, safety_age: float, edge_confidence: float,
             edge_reasons: str = "") -> Switch | None:
        """Choose this tick's commander; returns the switch if it changed."""
        if self.last_now is not None and now > self.last_now:
            self.time_in[self.mode] += now - self.last_now
        self.last_now = now
        allowed = Mode(safety_allowed) if safety_allowed in (0, 1, 2) and safety_age <= self.params.safety_max_age \
            else None
        blocks = {Mode.PRIMARY: self._primary_block(now, allowed),
                  Mode.EDGE: self._edge_block(edge_confidence, edge_reasons, allowed)}
        for m in (Mode.PRIMARY, Mode.EDGE):
            if blocks[m]:
                self.eligible_since[m] = None
            elif self.eligible_since[m] is None:
                self.eligible_since[m] = now
        cur = self.mode
        # Downgrade at once if the current commander is no longer eligible.
        if cur != Mode.MECHANICAL and blocks[cur]:
            target = Mode.EDGE if cur == Mode.PRIMARY and not blocks[Mode.EDGE] else Mode.MECHANICAL
            delay = 0.0
            if cur == Mode.PRIMARY and self.lease is not None and now >= self.lease.deadline:
                delay = now - self.lease.deadline
            return self._switch(now, target, blocks[cur], delay)
        # Upgrade only after the dwell.
        for m in (Mode.PRIMARY, Mode.EDGE):
            if m >= cur:
                break
            since = self.eligible_since[m]
            if since is not None and now - since >= self.params.upgrade_dwell:
                why = (f"{NAMES[m]} eligible for {now - since:.2f} s >= dwell {self.params.upgrade_dwell} s"
                       + (f" (decision {self.lease.decision_id})" if m == Mode.PRIMARY and self.lease else ""))
                return self._switch(now, m, why, now - since - self.params.upgrade_dwell)
        return None

    def _switch(self, now: float, target: Mode, reason: str, delay: float) -> Switch:
        self.sequence += 1
        prev, self.mode = self.mode, target
        did = self.lease.decision_id if self.lease is not None and Mode.PRIMARY in (prev, target) else ""
        return Switch(self.sequence, now, prev, target, f"{NAMES[prev]} -> {NAMES[target]}: {reason}",
                      max(0.0, delay), did)

    def mode_fractions(self) -> dict[str, float]:
        total = sum(self.time_in.values())
        return {NAMES[m]: (t / total if total > 0 else 0.0) for m, t in self.time_in.items()}
