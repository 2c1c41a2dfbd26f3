"""Election and membership parameters: one frozen dataclass, validated, with the derived leader lease.

Defaults equal ``config/swarm.yaml (src/sigma_swarm)`` (a unit test checks it). Times are seconds of the member's own
monotonic clock; ``max_clock_drift`` is the bound on how fast two members' clocks may run apart (rate, e.g. 0.01 =
1 %), which the lease is shortened by so that it stays safe under that drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma_ros_common.params import ConfigError, ParamSpec, build, check, coerce, require
from sigma_ros_common.params import param as _param
from sigma_ros_common.params import specs as _specs

__all__ = ["ConfigError", "ElectionParams", "build_params", "specs"]


@dataclass(frozen=True)
class ElectionParams:
    """Timing of the election, the lease and the failure detector."""

    heartbeat_interval_s: float = _param(
        0.125, unit="s", low=0.005, high=1.0,
        description="leader heartbeat (lease renewal) period; at most half of election_timeout_min_s (round 24: "
                    "125 ms, the leader's acknowledgement intake at 8 rounds a second)")
    election_timeout_min_s: float = _param(
        0.25, unit="s", low=0.02, high=10.0,
        description="lower end of the randomized election timeout (Raft: 150 ms; 250 ms keeps twice the heartbeat)")
    election_timeout_max_s: float = _param(
        0.4, unit="s", low=0.03, high=20.0, description="upper end of the randomized election timeout (Raft: 300 ms)")
    election_backoff_max: float = _param(
        2.0, unit="1", low=1.0, high=64.0,
        description="after each election round that ends without a leader the randomized timeout range doubles, "
                    "up to this factor (1 = no backoff); back to 1 once a leader is heard")
    election_stagger_s: float = _param(
        0.05, unit="s", low=0.0, high=5.0,
        description="successor slots (round 23): while a leader is heard, the live followers are ranked in an order "
                    "drawn from the term; rank r < election_stagger_ranks times out at timeout_min + r x this + up to "
                    "half of it, the rest after the ranked slots; 0 = plain Raft randomized timeouts")
    election_stagger_ranks: int = _param(
        3, unit="1", low=1, high=64,
        description="followers given a successor slot of their own; the rest draw from the randomized range moved "
                    "past these slots")
    ack_margin: float = _param(
        0.3, unit="1", low=0.0, high=100.0,
        description="followers asked to acknowledge each leader heartbeat: the majority's share plus this fraction "
                    "of it (at least one more), rotating over the live ones; every follower after a round without "
                    "a majority, during a roster change, or when that would be all of them anyway (>= 1: always)")
    member_heartbeat_interval_s: float = _param(
        1.0, unit="s", low=0.05, high=10.0, description="membership heartbeat period of every member")
    suspicion_timeout_s: float = _param(
        2.5, unit="s", low=0.1, high=60.0, description="a member not heard from for this long is suspected (not live)")
    max_clock_drift: float = _param(
        0.01, unit="1", low=0.0, high=0.1, description="bound on the clock rate difference the lease stays safe under")
    lease_safety_factor: float = _param(
        0.9, unit="1", low=0.1, high=1.0, description="extra margin on the leader lease (1 = no margin)")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            spec: ParamSpec = f.metadata["spec"]
            check(f.name, spec, coerce(f.name, f.default, getattr(self, f.name)))
        require(self.election_timeout_max_s > self.election_timeout_min_s,
                "election_timeout_max_s must be greater than election_timeout_min_s")
        require(self.heartbeat_interval_s * 2 <= self.election_timeout_min_s,
                "heartbeat_interval_s must be at most half of election_timeout_min_s "
                "(otherwise a live leader is not heard before followers time out)")
        require(self.suspicion_timeout_s >= 2 * self.member_heartbeat_interval_s,
                "suspicion_timeout_s must be at least twice member_heartbeat_interval_s")

    @property
    def lease_s(self) -> float:
        """Leader lease, measured on the leader's clock from the send time of an acknowledged heartbeat.

        A follower that acknowledged refuses votes for ``election_timeout_min_s`` on its own clock from receipt, which
        is after the send; so the lease is safe while lease*(1+drift) <= timeout_min*(1-drift), with extra margin.
        """
        rho = self.max_clock_drift
        return self.election_timeout_min_s * (1 - rho) / (1 + rho) * self.lease_safety_factor

    def lease_safe_beside(self, other: ElectionParams) -> bool:
        """True if a leader running these parameters cannot hold its lease after a follower running ``other`` stopped
        refusing votes: the lease argument above, across two settings (a site part-way through a change of timing,
        docs/swarm.md "Upgrading a site"). A site is safe when this holds for every ordered pair of its settings."""
        rho = max(self.max_clock_drift, other.max_clock_drift)
        return self.lease_s * (1 + rho) <= other.election_timeout_min_s * (1 - rho)


def specs() -> list[tuple[str, Any, ParamSpec]]:
    """(name, default, spec) of every parameter."""
    return _specs(ElectionParams)


def build_params(values: Mapping[str, Any]) -> ElectionParams:
    """ElectionParams from a mapping (the ``election`` section); unknown names, types and ranges are refused."""
    return build(ElectionParams, values, "election")
