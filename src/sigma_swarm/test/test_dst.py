"""Deterministic simulation: >= 1,000 seeded runs with loss, delay, duplication, reordering, partitions (symmetric
and one-way), crash-restart, process pauses and clock drift, N = 3..25, invariants after every step.

A failing seed names itself; replay it with ``python -m sigma_swarm.dst --seed N --trace``. The mutation tests show
the checker is not vacuous: a core with a broken rule fails it.
"""

from __future__ import annotations

import pytest
from test_core import ROUND_23, UPGRADE_STEP_1

from sigma_swarm.core import MemberHeartbeat
from sigma_swarm.core import member as member_module
from sigma_swarm.core.params import ElectionParams
from sigma_swarm.dst import Profile, run_seed

SMALL = Profile(n_min=3, n_max=12)   # most seeds: small sites, cheap on a shared 2-core box
LARGE = Profile(n_min=13, n_max=25)  # fewer seeds, up to the 25 members


def _sweep(seeds, profile):
    failures, leader_times, commands = [], [], 0
    for seed in seeds:
        result = run_seed(seed, profile)
        if not result.ok:
            failures.append(f"seed {seed} (n={result.n}): {result.violation}\n  {result.replay_hint()}")
        else:
            leader_times.append(result.leader_after_calm_s)
            commands += result.commands
    return failures, leader_times, commands


@pytest.mark.parametrize(("first", "end", "profile"), [
    (0, 500, SMALL), (500, 1000, SMALL), (100_000, 100_050, LARGE),
])
def test_invariants_hold_for_every_seed(first, end, profile):
    failures, leader_times, commands = _sweep(range(first, end), profile)
    assert not failures, "\n".join(failures[:5])
    assert max(leader_times) <= profile.liveness_bound_s
    assert commands > (end - first)  # fenced leader commands were really exercised


def test_leaders_ask_a_subset_to_acknowledge_and_fewer_acknowledgements_travel():
    """Round 18: the same seeds with every follower asked (ack_margin 1, the protocol before) and with the default
    margin; both keep every invariant (the sweeps above run the default), the default sends fewer acknowledgements:
    a little fewer under the fault profile (leaders ask everyone after a short round and in roster changes), about
    a quarter fewer on a calm site (the failover scenario's leader before it is killed; 10-25 members)."""
    default = ElectionParams().ack_margin
    for profile, subset_share, ratio in ((Profile(n_min=10, n_max=25), 0.2, 0.95),
                                         (Profile(n_min=10, n_max=25, failover=True), 0.8, 0.8)):
        counts = {}
        for margin in (1.0, default):
            results = [run_seed(seed, profile, ElectionParams(ack_margin=margin)) for seed in range(200_000, 200_030)]
            assert all(r.ok for r in results), [f"{r.seed}: {r.violation}" for r in results if not r.ok][:3]
            beats = sum(r.heartbeats for r in results)
            counts[margin] = (sum(r.subset_heartbeats for r in results) / beats, sum(r.acks for r in results) / beats)
        assert counts[1.0][0] == 0 and counts[default][0] > subset_share
        assert counts[default][1] < ratio * counts[1.0][1], (profile, counts)


def test_same_seed_same_run():
    a, b = run_seed(4242, trace=True), run_seed(4242, trace=True)
    assert a.ok and a.trace == b.trace and a.events == b.events and a.faults == b.faults


def test_faults_really_happen():
    faults = [f for s in range(50) for f in run_seed(s, SMALL).faults]
    for kind in ("symmetric partition", "one-way", "crash", "pause", "isolate leader", "heal", "network loss",
                 "roster v2: add", "roster v2: revoke"):
        assert any(kind in f for f in faults), kind


def _first_failure(seeds, profile=SMALL):
    for seed in seeds:
        result = run_seed(seed, profile)
        if not result.ok:
            return result
    return None


def test_checker_catches_a_lease_longer_than_the_vote_refusal(monkeypatch):
    monkeypatch.setattr(ElectionParams, "lease_s", property(lambda p: p.election_timeout_min_s * 3))
    result = _first_failure(range(200))
    assert result is not None and "overlapping valid leader leases" in result.violation
    assert f"--seed {result.seed}" in result.replay_hint()


def test_checker_catches_a_follower_that_ignores_fencing(monkeypatch):
    original = member_module.Member._accept_leader

    def accept_stale(self, msg, now):
        return True if msg.term < self.term else original(self, msg, now)

    monkeypatch.setattr(member_module.Member, "_accept_leader", accept_stale)
    result = _first_failure(range(300))
    assert result is not None and "accepted a command of term" in result.violation


def test_checker_catches_a_roster_change_without_the_joint_quorum(monkeypatch):
    monkeypatch.setattr(member_module.Member, "_quorum",
                        lambda self, ids: member_module._majority(ids, self.roster.members))
    result = _first_failure(range(400), Profile(n_min=3, n_max=8, roster_change_p=1.0))
    assert result is not None and "two leaders in term" in result.violation


def test_checker_catches_a_leader_that_counts_the_followers_it_asked_as_acknowledged(monkeypatch):
    original = member_module.Member._send_heartbeat

    def presume(self, now, out):
        original(self, now, out)
        beat = out.sends[-1].message
        asked = {p for p, rank in self._rank.items() if beat.ack_mask >> rank & 1}
        self._hb_acks[beat.seq] |= asked
        if beat.ack_mask and self._quorum(self._hb_acks[beat.seq]):
            self._lease_until, self._quorum_at, self._acked_seq = now + self.params.lease_s, now, beat.seq

    monkeypatch.setattr(member_module.Member, "_send_heartbeat", presume)
    result = _first_failure(range(300), Profile(n_min=6, n_max=12))
    assert result is not None and "overlapping valid leader leases" in result.violation


def test_checker_catches_terms_going_back(monkeypatch):
    original = member_module.Member._on_member_heartbeat

    def regress(self, msg, now, out):
        original(self, msg, now, out)
        if self.term > 2 and self.role is member_module.Role.FOLLOWER:
            self.term -= 1

    monkeypatch.setitem(member_module._HANDLERS, MemberHeartbeat, regress)
    result = _first_failure(range(300))
    assert result is not None and "term went back" in result.violation


# CPU starvation (a host at load 20-60): every member gets the CPU only in short slices between gaps of 100 ms on
# average (up to 400 ms), calm included. Raft's fixed 150-300 ms timeouts are shorter than those gaps.
STARVED = Profile(n_min=20, n_max=20, starve_gap_s=0.1, liveness_bound_s=8.0)


def _without_the_starvation_measures(monkeypatch) -> ElectionParams:
    """The core as it was before: no election backoff, no timer-lateness allowance, step-down when the lease ends,
    50 ms heartbeats and Raft's 150-300 ms timeouts."""
    monkeypatch.setattr(member_module.Member, "_note_lateness", lambda self, now: None)
    monkeypatch.setattr(member_module.Member, "_step_down_at",
                        lambda self: max(self._lease_until, self._leader_since + self.params.election_timeout_min_s))
    return ElectionParams(election_backoff_max=1.0, heartbeat_interval_s=0.05, election_timeout_min_s=0.15,
                          election_timeout_max_s=0.3)


def test_twenty_starved_members_elect_a_leader_within_the_bound_and_keep_every_invariant():
    failures, leader_times, _ = _sweep(range(12), STARVED)
    assert not failures, "\n".join(failures[:3])
    assert max(leader_times) <= STARVED.liveness_bound_s


def test_without_backoff_and_lateness_allowance_starved_elections_miss_the_bound(monkeypatch):
    params = _without_the_starvation_measures(monkeypatch)
    result = next((r for r in (run_seed(s, STARVED, params) for s in range(12)) if not r.ok), None)
    assert result is not None and "no leader acknowledged by all 20 members" in result.violation


def test_successor_slots_win_failovers_in_the_first_election_where_plain_timeouts_split():
    """Round 23: the same 60 failovers (20 members, a calm site, ~5 ms network jitter, the leader killed for good)
    with Raft's plain randomized timeouts and with successor slots. Deterministic: the same seeds give the same runs."""
    profile = Profile(n_min=20, n_max=20, failover=True, max_jitter_s=0.005, plain_timeouts_p=0.0)
    runs = {stagger: [run_seed(s, profile, ElectionParams(election_stagger_s=stagger)) for s in range(60)]
            for stagger in (0.0, ElectionParams().election_stagger_s)}
    for results in runs.values():
        assert all(r.ok for r in results), [f"{r.seed}: {r.violation}" for r in results if not r.ok][:3]
    first = {k: sum(r.elections == 1 for r in v) for k, v in runs.items()}
    slowest = {k: max(r.leader_after_calm_s for r in v) for k, v in runs.items()}
    assert first[0.0] < 60 and first[ElectionParams().election_stagger_s] == 60, first
    assert slowest[ElectionParams().election_stagger_s] < slowest[0.0], slowest


@pytest.mark.parametrize("step", ["round 23 beside step 1", "step 1 beside round 24"])
def test_a_site_part_way_through_the_two_step_timing_upgrade_keeps_every_invariant(step):
    """Round 24's upgrade path (docs/swarm.md "Upgrading a site"): each step mixes two settings whose leases end
    before the other's vote refusal; half the members (drawn per seed) run the other setting, under the usual faults."""
    base, mixed = (ROUND_23, UPGRADE_STEP_1) if step.startswith("round 23") else (UPGRADE_STEP_1, ElectionParams())
    profile = Profile(n_min=3, n_max=9, mixed_params=mixed)
    failures = [f"seed {r.seed}: {r.violation}" for r in (run_seed(s, profile, base) for s in range(200)) if not r.ok]
    assert not failures, failures[:3]
