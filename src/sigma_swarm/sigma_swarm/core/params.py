"""Election and membership parameters: one frozen dataclass, validated, with the derived leader lease.

Defaults equal ``config/sigma_swarm/swarm.yaml`` (a unit test checks it). Times are seconds of the member's own
monotonic clock; ``max_clock_drift`` is the bound on how fast two members' clocks may run apart (rate, e.g. 0.01 =
1 %), which the lease is shortened by so that it stays safe under that drift.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A parameter is missing, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class ParamSpec:
    """Unit, inclusive range and description of one parameter."""

    unit: str
    low: float
    high: float
    description: str


def _param(default: float, *, unit: str, low: float, high: float, description: str) -> Any:
    return dataclasses.field(default=default, metadata={"spec": ParamSpec(unit, low, high, description)})


@dataclass(frozen=True)
class ElectionParams:
    """Timing of the election, the lease and the failure detector."""

    heartbeat_interval_s: float = _param(
        0.05, unit="s", low=0.005, high=1.0, description="leader heartbeat (lease renewal) period")
    election_timeout_min_s: float = _param(
        0.15, unit="s", low=0.02, high=10.0, description="lower end of the randomized election timeout (Raft: 150 ms)")
    election_timeout_max_s: float = _param(
        0.30, unit="s", low=0.03, high=20.0, description="upper end of the randomized election timeout (Raft: 300 ms)")
    member_heartbeat_interval_s: float = _param(
        0.5, unit="s", low=0.05, high=10.0, description="membership heartbeat period of every member")
    suspicion_timeout_s: float = _param(
        1.6, unit="s", low=0.1, high=60.0, description="a member not heard from for this long is suspected (not live)")
    max_clock_drift: float = _param(
        0.01, unit="1", low=0.0, high=0.1, description="bound on the clock rate difference the lease stays safe under")
    lease_safety_factor: float = _param(
        0.9, unit="1", low=0.1, high=1.0, description="extra margin on the leader lease (1 = no margin)")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            spec: ParamSpec = f.metadata["spec"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"parameter {f.name}: expected a finite number, got {value!r}")
            if not spec.low <= value <= spec.high:
                raise ConfigError(f"parameter {f.name}={value} out of range [{spec.low}, {spec.high}] {spec.unit}")
        if self.election_timeout_max_s <= self.election_timeout_min_s:
            raise ConfigError("election_timeout_max_s must be greater than election_timeout_min_s")
        if self.heartbeat_interval_s * 2 > self.election_timeout_min_s:
            raise ConfigError("heartbeat_interval_s must be at most half of election_timeout_min_s "
                              "(otherwise a live leader is not heard before followers time out)")
        if self.suspicion_timeout_s < 2 * self.member_heartbeat_interval_s:
            raise ConfigError("suspicion_timeout_s must be at least twice member_heartbeat_interval_s")

    @property
    def lease_s(self) -> float:
        """Leader lease, measured on the leader's clock from the send time of an acknowledged heartbeat.

        A follower that acknowledged refuses votes for ``election_timeout_min_s`` on its own clock from receipt, which
        is after the send; so the lease is safe while lease*(1+drift) <= timeout_min*(1-drift), with extra margin.
        """
        rho = self.max_clock_drift
        return self.election_timeout_min_s * (1 - rho) / (1 + rho) * self.lease_safety_factor


def specs() -> list[tuple[str, float, ParamSpec]]:
    """(name, default, spec) of every parameter."""
    return [(f.name, f.default, f.metadata["spec"]) for f in dataclasses.fields(ElectionParams)]


def build_params(values: Mapping[str, Any]) -> ElectionParams:
    """ElectionParams from a mapping; unknown names are refused with their name."""
    known = {f.name for f in dataclasses.fields(ElectionParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown election parameter(s): {', '.join(unknown)}")
    return ElectionParams(**{k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                             for k, v in values.items()})
