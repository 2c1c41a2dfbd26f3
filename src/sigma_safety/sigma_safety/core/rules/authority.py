"""Rule 7 — AI self-suspension and the degradation chain Primary AI -> Edge AI -> mechanical fallback.

An AI loses authority after ``suspend_count`` consecutive confidence reports below ``confidence_threshold``, or
when its reports go stale. It regains authority only after ``recover_count`` consecutive fresh reports at or above
``recover_threshold`` (explicit, logged). At start no AI is qualified: authority is earned, never assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sigma_safety.core.model import Authority, Fault, PolicyReport, RuleOutput, Severity, Snapshot
from sigma_safety.core.params import param, require

SUSPENDED = {Authority.PRIMARY_AI: 701, Authority.EDGE_AI: 702}
NO_AUTHORITY = 705
CHAIN = (Authority.PRIMARY_AI, Authority.EDGE_AI)
_NAMES = {Authority.PRIMARY_AI: "primary_ai", Authority.EDGE_AI: "edge_ai"}


@dataclass(frozen=True)
class AuthorityParams:
    """Thresholds of the self-suspension trigger."""

    confidence_threshold: float = param(0.5, unit="1", low=0.0, high=1.0,
                                        description="reports below this confidence count towards suspension")
    suspend_count: int = param(3, unit="reports", low=1, high=1000,
                               description="consecutive low reports that suspend an AI")
    recover_threshold: float = param(0.7, unit="1", low=0.0, high=1.0,
                                     description="reports at or above this confidence count towards recovery")
    recover_count: int = param(5, unit="reports", low=1, high=10000,
                               description="consecutive good reports that restore an AI's authority")
    max_report_age: float = param(0.5, unit="s", low=0.01, high=60.0,
                                  description="an AI whose last report is older than this loses authority")

    def __post_init__(self) -> None:
        require(self.recover_threshold >= self.confidence_threshold,
                "recover_threshold must be at least confidence_threshold (hysteresis)")


@dataclass
class _AiState:
    authorized: bool = False
    low: int = 0
    high: int = 0
    last: PolicyReport | None = None
    reason: str = "no confidence report yet"


@dataclass
class AuthorityRule:
    """Tracks each AI's qualification from its ``policy_health`` reports."""

    params: AuthorityParams
    ais: dict[Authority, _AiState] = field(default_factory=lambda: {a: _AiState() for a in CHAIN})
    notes: list[str] = field(default_factory=list)
    name: str = "ai_self_suspension"

    def observe(self, report: PolicyReport) -> None:
        """Count one confidence report (each report is one evaluation of the AI's policy)."""
        p, ai = self.params, self.ais[report.authority]
        ai.last = report
        c = report.confidence
        ok = math.isfinite(c)
        ai.low = ai.low + 1 if not ok or c < p.confidence_threshold else 0
        ai.high = ai.high + 1 if ok and c >= p.recover_threshold else 0
        who = _NAMES[report.authority]
        if ai.authorized and ai.low >= p.suspend_count:
            ai.authorized = False
            ai.reason = f"confidence {c:.2f} below {p.confidence_threshold} for {ai.low} reports"
            self.notes.append(f"{who} suspended: {ai.reason}")
        elif not ai.authorized and ai.high >= p.recover_count:
            ai.authorized = True
            self.notes.append(f"{who} (re)qualified: {ai.high} consecutive reports >= {p.recover_threshold}")

    def evaluate(self, snap: Snapshot, now: float) -> RuleOutput:
        """Authority = first qualified AI along the chain; stale AIs are suspended here."""
        p = self.params
        faults = []
        allowed = Authority.MECHANICAL_FALLBACK
        for auth in CHAIN:
            ai, who = self.ais[auth], _NAMES[auth]
            if ai.last is not None and now - ai.last.received > p.max_report_age:
                if ai.authorized or ai.high:
                    ai.reason = f"no confidence report for {now - ai.last.received:.2f} s (max {p.max_report_age})"
                    if ai.authorized:
                        self.notes.append(f"{who} suspended: {ai.reason}")
                ai.authorized, ai.high = False, 0
            if ai.authorized:
                allowed = min(allowed, auth)
            else:
                value = ai.last.confidence if ai.last else 0.0
                faults.append(Fault(SUSPENDED[auth], self.name, who, f"{who} has no authority: {ai.reason}",
                                    Severity.WARNING, False, value, p.confidence_threshold))
        if allowed == Authority.MECHANICAL_FALLBACK:
            faults.append(Fault(NO_AUTHORITY, self.name, "authority",
                                "no AI qualified to command: mechanical fallback (hold posture, brakes)",
                                Severity.PROTECTIVE_STOP, False, 0.0, 0.0))
        return RuleOutput(tuple(faults), speed_scale=0.0 if allowed == Authority.MECHANICAL_FALLBACK else 1.0,
                          authority=allowed)

    def drain_notes(self) -> list[str]:
        """Transitions noted since the last call (for the safety event's cause)."""
        out, self.notes = self.notes, []
        return out
