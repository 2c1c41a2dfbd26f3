"""Drift gate (pure): a candidate model/policy runs in shadow beside the live one on the same inputs; it is promoted
only when its measured quality is not worse than the live one's by more than `margin` over at least `min_samples`
inputs, and a promoted model is rolled back when, live, its quality falls below the previous model's recorded quality
by more than `margin`. Every promotion and rollback comes out as an audit record (who, what, why, the figures); the
caller appends it to the hash-chained audit log."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class GateParams:
    margin: float = 0.02      # quality may be this much lower and still promote
    min_samples: int = 200    # shadow inputs before any verdict

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"drift gate margin must be in [0, 1), got {self.margin!r}")
        if self.min_samples < 1:
            raise ValueError(f"drift gate min_samples must be >= 1, got {self.min_samples!r}")


@dataclass(frozen=True)
class GateState:
    """Live and candidate versions, their scores on the same shadow inputs, and the previous live version."""

    live: str
    candidate: str | None = None
    live_correct: int = 0
    candidate_correct: int = 0
    samples: int = 0
    previous: str | None = None
    previous_quality: float | None = None
    live_since_promotion: tuple[int, int] = (0, 0)  # (correct, samples) of the live model after a promotion


def propose(state: GateState, candidate: str) -> GateState:
    """Start shadowing a candidate (its counts start from zero)."""
    return replace(state, candidate=candidate, live_correct=0, candidate_correct=0, samples=0)


def observe(state: GateState, *, live_right: bool, candidate_right: bool | None) -> GateState:
    """One shadow input: whether the live and (if any) the candidate model got it right."""
    correct, seen = state.live_since_promotion
    state = replace(state, live_since_promotion=(correct + int(live_right), seen + 1))
    if state.candidate is None or candidate_right is None:
        return state
    return replace(state, live_correct=state.live_correct + int(live_right),
                   candidate_correct=state.candidate_correct + int(candidate_right), samples=state.samples + 1)


def decide(state: GateState, params: GateParams, actor: str) -> tuple[GateState, dict[str, Any] | None]:
    """Promote, reject, roll back or wait; returns the new state and the audit record (None when waiting)."""
    correct, seen = state.live_since_promotion
    if state.previous is not None and state.previous_quality is not None and seen >= params.min_samples:
        quality = correct / seen
        if quality + params.margin < state.previous_quality:
            record = {"actor": actor, "action": "model.rollback", "from": state.live, "to": state.previous,
                      "why": f"live quality {quality:.3f} < previous {state.previous_quality:.3f} - margin "
                             f"{params.margin:g} over {seen} inputs"}
            return GateState(live=state.previous), record
    if state.candidate is None or state.samples < params.min_samples:
        return state, None
    live_q = state.live_correct / state.samples
    cand_q = state.candidate_correct / state.samples
    figures = (f"candidate {cand_q:.3f} vs live {live_q:.3f} on the same {state.samples} inputs "
               f"(margin {params.margin:g})")
    if cand_q + params.margin >= live_q:
        record = {"actor": actor, "action": "model.promote", "from": state.live, "to": state.candidate,
                  "why": figures}
        return GateState(live=state.candidate, previous=state.live, previous_quality=live_q), record
    record = {"actor": actor, "action": "model.reject", "from": state.live, "to": state.candidate, "why": figures}
    return replace(state, candidate=None, live_correct=0, candidate_correct=0, samples=0), record
