"""The sans-I/O election core, driven by hand: no sockets, no clock, no ROS."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import yaml

from sigma_ros_common.params import build
from sigma_swarm.core import (
    ConfigError,
    Durable,
    ElectionParams,
    HeartbeatAck,
    LeaderCommand,
    LeaderHeartbeat,
    Member,
    MemberHeartbeat,
    PreVoteRequest,
    Role,
    Roster,
    VoteRequest,
    build_params,
)
from sigma_swarm.core.member import succession_order
from sigma_swarm.settings import SwarmNodeSettings

P = ElectionParams()
ROSTER = Roster(1, frozenset({"a", "b", "c", "d", "e"}))
CONFIG = Path(__file__).resolve().parents[1] / "config" / "swarm.yaml"


def make(ids=("a", "b", "c", "d", "e"), roster=ROSTER, now=0.0):
    return {i: Member(i, roster, P, random.Random(i), now) for i in ids}


def run(members, until, start=0.0, blocked=frozenset(), step=0.001):
    """Deliver every message instantly (except across ``blocked`` pairs) and tick each member every ``step``."""
    t = start
    while t < until:
        queue = []
        for m in members.values():
            queue += [(m.id, s) for s in m.tick(t).sends]
        while queue:
            sender, send = queue.pop(0)
            targets = [send.to] if send.to else [i for i in members if i != sender]
            for to in targets:
                if to in members and (sender, to) not in blocked:
                    queue += [(to, s) for s in members[to].handle(send.message, t).sends]
        t += step
    return t


def leaders(members, now):
    return {m.id for m in members.values() if m.lease_valid(now)}


def test_defaults_equal_config_file_and_lease_is_below_min_timeout():
    section = yaml.safe_load(CONFIG.read_text())["/**"]["ros__parameters"]
    assert build_params(section["election"]) == P
    node_values = {k: v for k, v in section.items() if k != "election"}
    assert build(SwarmNodeSettings, node_values) == SwarmNodeSettings()
    assert P.lease_s < P.election_timeout_min_s * (1 - P.max_clock_drift) / (1 + P.max_clock_drift)


@pytest.mark.parametrize(("values", "needle"), [
    ({"election_timeout_min_s": 0.3, "election_timeout_max_s": 0.2}, "greater than"),
    ({"heartbeat_interval_s": 0.15}, "half of election_timeout_min_s"),
    ({"suspicion_timeout_s": 0.5}, "twice member_heartbeat_interval_s"),
    ({"max_clock_drift": 0.5}, "max_clock_drift"),
    ({"bogus": 1.0}, "bogus"),
])
def test_bad_parameters_are_refused_with_their_name(values, needle):
    with pytest.raises(ConfigError, match=needle):
        build_params(values)


def test_five_members_elect_exactly_one_leader_everyone_follows():
    members = make()
    t = run(members, 1.0)
    (leader,) = leaders(members, t)
    assert all(m.status(t).leader == leader for m in members.values())
    assert len({m.term for m in members.values()}) == 1
    assert all(m.status(t).members == ("a", "b", "c", "d", "e") for m in members.values())


def test_minority_side_of_a_partition_says_it_has_no_leader_and_heals_cleanly():
    members = make()
    t = run(members, 1.0)
    (old,) = leaders(members, t)
    minority = {old, next(i for i in members if i != old)}
    blocked = {(a, b) for a in members for b in members if (a in minority) != (b in minority)}
    t = run(members, t + 2.5, start=t, blocked=blocked)
    majority_leaders = {m.status(t).leader for i, m in members.items() if i not in minority}
    assert len(majority_leaders) == 1 and "" not in majority_leaders and old not in majority_leaders
    for i in minority:
        assert members[i].status(t).leader == "", f"{i} on the minority side still names a leader"
        assert not members[i].lease_valid(t)
        assert len(members[i].status(t).members) == 2  # the others are suspected
    t = run(members, t + 1.5, start=t)
    assert len(leaders(members, t)) == 1
    assert len({m.status(t).leader for m in members.values()}) == 1


def test_leader_command_carries_the_term_and_an_older_term_is_fenced():
    members = make()
    t = run(members, 1.0)
    (leader,) = leaders(members, t)
    send = members[leader].leader_command("assign", b"job-1", t)
    assert send is not None and send.message.term == members[leader].term
    follower = members[next(i for i in members if i != leader)]
    assert follower.handle(send.message, t).commands == [send.message]
    assert follower.handle(send.message, t).commands == []  # a duplicate is not applied twice
    stale = LeaderCommand(leader, send.message.term - 1, 1, 99, "assign", b"old")
    assert follower.handle(stale, t).commands == []
    assert follower.counters["stale_term"] == 1
    assert members[next(i for i in members if i not in (leader, follower.id))].leader_command("x", b"", t) is None


def test_a_newer_term_seen_from_a_leader_fences_the_old_leaders_commands():
    m = Member("a", ROSTER, P, random.Random(1), 0.0, Durable(term=3))
    assert m.handle(LeaderHeartbeat("b", 5, 1, 1), 1.0).sends  # acknowledged, term 5 adopted
    assert m.term == 5 and m.leader == "b"
    assert m.handle(LeaderCommand("c", 4, 1, 1, "assign", b""), 1.01).commands == []


def test_votes_are_refused_while_a_leader_is_heard_and_right_after_boot():
    m = Member("a", ROSTER, P, random.Random(1), 0.0)
    assert m.handle(VoteRequest("b", 1, 1), 0.01).sends == []  # boot quiet period
    assert m.counters["vote_refused_leader_alive"] == 1
    m.handle(LeaderHeartbeat("c", 1, 1, 1), 0.5)
    assert m.handle(VoteRequest("b", 2, 1), 0.55).sends == []
    assert m.term == 1  # an ignored request does not move the term
    (reply,) = m.handle(VoteRequest("b", 2, 1), 0.5 + P.election_timeout_min_s + 0.01).sends
    assert reply.message.granted and m.term == 2 and m.voted_for == "b"


def test_one_vote_per_term_survives_a_restart():
    m = Member("a", ROSTER, P, random.Random(1), 0.0)
    (reply,) = m.handle(VoteRequest("b", 1, 1), 1.0).sends
    assert reply.message.granted
    restarted = Member("a", ROSTER, P, random.Random(2), 2.0, m.durable)
    (reply,) = restarted.handle(VoteRequest("c", 1, 1), 3.0).sends
    assert not reply.message.granted


def test_lease_needs_a_majority_of_acks_and_lapses_without_them():
    members = make(("a", "b", "c"), Roster(1, frozenset({"a", "b", "c"})))
    t = run(members, 1.0)
    (leader,) = leaders(members, t)
    lone = {leader: members[leader]}
    t2 = run(lone, t + P.lease_s + 0.01, start=t)
    assert not members[leader].lease_valid(t2)
    run(lone, t2 + P.election_timeout_min_s, start=t2)
    assert members[leader].role is Role.FOLLOWER


def test_ack_from_a_stranger_or_for_an_unknown_round_does_not_extend_the_lease():
    members = make()
    t = run(members, 1.0)
    (leader,) = leaders(members, t)
    m = members[leader]
    before = m.lease_until
    m.handle(HeartbeatAck("zz", m.term, 1, leader, 10**6), t)
    m.handle(HeartbeatAck("b" if leader != "b" else "c", m.term, 1, leader, 10**6), t)
    assert m.lease_until == before
    assert m.counters["not_in_roster"] == 1


def test_roster_change_needs_both_majorities_until_the_old_roster_settles():
    old = Roster(1, frozenset({"a", "b", "c"}))
    new = Roster(2, frozenset({"a", "b", "c", "d", "e"}))
    members = make(("a", "b", "c", "d", "e"), old)
    for m in members.values():
        m.set_roster(new, 0.0)
        assert m.prev_members == old.members
    assert not members["d"]._quorum({"c", "d", "e"})  # majority of new, not of old
    assert members["d"]._quorum({"a", "b", "d"})
    t = run(members, 2.0)
    assert all(m.prev_members is None for m in members.values())  # committed after the old roster settled
    assert len(leaders(members, t)) == 1


def test_revoked_member_is_ignored_after_the_roster_drops_it():
    members = make()
    t = run(members, 1.0)
    smaller = Roster(2, frozenset({"a", "b", "c", "d"}))
    for i in "abcd":
        members[i].set_roster(smaller, t)
    assert members["a"].handle(LeaderHeartbeat("e", 99, 2, 1), t).sends == []
    assert members["a"].counters["not_in_roster"] == 1
    assert members["a"].term < 99


def test_leader_awaits_acks_until_its_newest_round_has_a_majority():
    members = make()
    t = run(members, 1.0)
    (leader,) = leaders(members, t)
    m = members[leader]
    assert all(x.awaiting_acks for x in members.values() if x.id != leader)  # only a leader ever stops awaiting
    assert not m.awaiting_acks  # instant delivery: the newest round already has its majority
    t += P.heartbeat_interval_s
    out = m.tick(t)  # the next round goes out
    assert any(isinstance(s.message, LeaderHeartbeat) for s in out.sends) and m.awaiting_acks
    seq = next(s.message.seq for s in out.sends if isinstance(s.message, LeaderHeartbeat))
    others = sorted(i for i in members if i != leader)
    m.handle(HeartbeatAck(others[0], m.term, 1, leader, seq), t)
    assert m.awaiting_acks  # 2 of 5
    m.handle(HeartbeatAck(others[1], m.term, 1, leader, seq), t)
    assert not m.awaiting_acks  # 3 of 5: the round has its majority


def _heartbeats(out):
    return [s.message for s in out.sends if isinstance(s.message, LeaderHeartbeat)]


def _next_beat(leader):
    """Tick ``leader`` at its own deadlines until it sends a heartbeat; (the heartbeat, the time)."""
    while True:
        t = leader.next_deadline()
        if beats := _heartbeats(leader.tick(t)):
            return beats[0], t


def test_a_settled_leader_asks_a_rotating_majority_with_margin_and_everyone_after_a_short_round():
    ids = tuple(f"r{i:02d}" for i in range(20))
    roster = Roster(1, frozenset(ids))
    members = make(ids, roster)
    t = run(members, 1.5)
    (leader,) = leaders(members, t)
    m = members[leader]
    masks = []
    for _ in range(4):  # every round gets its majority at once, so each next one asks a subset
        beat, t = _next_beat(m)
        masks.append(beat.ack_mask)
        asked = [i for i in sorted(ids) if beat.ack_mask >> sorted(ids).index(i) & 1]
        assert len(asked) == 10 + 3 and leader not in asked  # 10 followers make the majority, 30 % more asked
        acks = {i for i in ids if i != leader
                for s in members[i].handle(beat, t).sends if isinstance(s.message, HeartbeatAck)}
        assert acks == set(asked)  # the others stay silent (but heard the leader: they refuse votes)
        assert all(members[i].leader == leader for i in ids if i != leader)
        for i in acks:
            m.handle(HeartbeatAck(i, m.term, 1, leader, beat.seq), t)
        assert not m.awaiting_acks
    assert len(set(masks)) > 1  # the subset rotates
    # a round whose majority does not arrive before the next heartbeat: the next one asks every follower
    beat, t = _next_beat(m)
    assert beat.ack_mask != 0 and m.awaiting_acks
    assert _next_beat(m)[0].ack_mask == 0


def test_a_follower_acknowledges_when_asked_when_unsure_and_always_tells_a_stale_leader_its_term():
    ids = ("a", "b", "c", "d", "e")
    f = Member("c", ROSTER, P, random.Random(1), 0.0)  # "c" is bit 2 of the sorted roster
    t = 1.0

    def acked(beat):
        return [s.message for s in f.handle(beat, t).sends if isinstance(s.message, HeartbeatAck)]

    assert acked(LeaderHeartbeat("a", 3, 1, 1, 0b00100))  # asked
    assert not acked(LeaderHeartbeat("a", 3, 1, 2, 0b11010))  # not asked
    assert f.leader == "a" and f.term == 3  # but the heartbeat counted: it follows "a" and refuses votes
    assert acked(LeaderHeartbeat("a", 3, 1, 3))  # no mask: every follower
    assert acked(LeaderHeartbeat("a", 3, 2, 4, 0b11010))  # another roster version: the mask cannot be read
    (stale,) = acked(LeaderHeartbeat("b", 2, 1, 9, 0b00001))  # an older term, not asked: told our term anyway
    assert stale.term == 3 and stale.to == "b"
    assert set(ids) == ROSTER.members


def test_every_follower_is_asked_in_small_rosters_during_roster_changes_and_with_a_margin_of_one():
    ids = tuple(f"r{i:02d}" for i in range(20))
    wide = ElectionParams(ack_margin=1.0)
    members = {i: Member(i, Roster(1, frozenset(ids)), wide, random.Random(i), 0.0) for i in ids}
    t = run(members, 1.5)
    (leader,) = leaders(members, t)
    assert not members[leader].awaiting_acks  # its rounds get their majority: only the margin asks everyone
    assert _next_beat(members[leader])[0].ack_mask == 0
    members = make(("a", "b", "c"), Roster(1, frozenset("abc")))  # 1 follower makes the majority, 2 asked: all
    t = run(members, 1.5)
    (leader,) = leaders(members, t)
    assert not members[leader].awaiting_acks and _next_beat(members[leader])[0].ack_mask == 0
    # a roster change in progress (joint quorum): everyone, although the 20-member roster would ask a subset
    ids = tuple(f"r{i:02d}" for i in range(20))
    members = make(ids, Roster(1, frozenset(ids)))
    t = run(members, 1.5)
    (leader,) = leaders(members, t)
    assert _next_beat(members[leader])[0].ack_mask != 0
    members = make(ids, Roster(1, frozenset(ids[:19])))
    t = run(members, 1.5)
    seen = []  # (in a roster change, ack_mask) of every heartbeat sent from here on
    for m in members.values():
        def tick(now, m=m, tick=m.tick):
            out = tick(now)
            seen.extend((m.prev_members is not None, b.ack_mask) for b in _heartbeats(out))
            return out
        m.tick = tick
        m.set_roster(Roster(2, frozenset(ids)), t)
    run(members, t + 4.0, start=t, step=0.005)
    during = [mask for changing, mask in seen if changing]
    after = [mask for changing, mask in seen if not changing]
    assert during and after and set(during) == {0} and any(after)


def _follower(robot_id, members, leader="L", term=4, params=P, heard=None, now=10.0):
    """A follower of ``leader`` in ``term``, created at ``now``, that heard ``heard`` (default: everyone) then."""
    m = Member(robot_id, Roster(1, frozenset(members)), params, random.Random(robot_id), now, Durable(term=term))
    for peer in (members if heard is None else heard):
        if peer != robot_id:
            m.handle(MemberHeartbeat(peer, term, 1, leader, True), now)
    m.handle(LeaderHeartbeat(leader, term, 1, 1), now)
    return m


def _stand(m):
    """Run ``m``'s timers on time up to its election deadline: it stands for election (a pre-vote)."""
    at = m.election_deadline
    while m.next_deadline() < at:
        m.tick(m.next_deadline())
    m.tick(at)
    return at


def test_successors_time_out_in_slots_of_the_terms_order_and_the_rest_after_them():
    """Round 23: rank r of the term's succession order (leader skipped) times out at min + r x stagger, within
    half a slot; followers past the ranked slots draw from the randomized range moved past them."""
    ids = [f"r{i}" for i in range(10)] + ["L"]
    order = [i for i in succession_order(4, frozenset(ids)) if i != "L"]
    assert order != sorted(order) and order != [i for i in succession_order(5, frozenset(ids)) if i != "L"]
    width, ranks, low, high = P.election_stagger_s, P.election_stagger_ranks, P.election_timeout_min_s, \
        P.election_timeout_max_s
    for rank, robot_id in enumerate(order):
        m = _follower(robot_id, ids)
        assert m.successor_rank(10.0) == rank
        timeout = m.election_deadline - 10.0
        if rank < ranks:
            assert low + rank * width <= timeout <= low + (rank + 0.5) * width
        else:
            assert low + ranks * width <= timeout <= high + ranks * width
    # a successor not heard within the suspicion timeout gives its slot to the next one
    second = _follower(order[1], ids, heard=[i for i in ids if i != order[0]])
    assert second.successor_rank(10.0) == 0 and second.election_deadline - 10.0 <= low + 0.5 * width
    # stagger 0: Raft's plain randomized timeout for everyone
    plain = ElectionParams(election_stagger_s=0.0)
    for robot_id in order:
        assert low <= _follower(robot_id, ids, params=plain).election_deadline - 10.0 <= high


def test_a_pre_candidate_steps_back_for_a_successor_ahead_of_it_standing_for_the_same_term():
    ids = [f"r{i}" for i in range(6)] + ["L"]
    order = [i for i in succession_order(4, frozenset(ids)) if i != "L"]
    first, later = order[0], order[3]
    m = _follower(later, ids)
    at = _stand(m)  # the leader is silent: it stands
    assert m.role is Role.PRE_CANDIDATE
    out = m.handle(PreVoteRequest(first, 5, 1), at + 0.001)
    assert m.role is Role.FOLLOWER and m.counters["pre_vote_yielded"] == 1
    assert [s.message.granted for s in out.sends] == [True]
    assert m.election_deadline >= at + 0.001 + P.election_timeout_min_s
    # one behind it does not make it step back (it grants the pre-vote all the same: pre-votes are not exclusive)
    m = _follower(first, ids)
    at = _stand(m)
    out = m.handle(PreVoteRequest(later, 5, 1), at + 0.001)
    assert m.role is Role.PRE_CANDIDATE and [s.message.granted for s in out.sends] == [True]
    # with plain timeouts nobody steps back
    m = _follower(later, ids, params=ElectionParams(election_stagger_s=0.0))
    at = _stand(m)
    m.handle(PreVoteRequest(first, 5, 1), at + 0.001)
    assert m.role is Role.PRE_CANDIDATE


# Round 24 changed the default timing (125 ms heartbeat, 250-400 ms timeouts, lease 220 ms). Rounds 18-23 ran 100 ms /
# 200-350 ms (lease 176 ms). A follower refuses votes for its own election_timeout_min_s after a heartbeat, so a
# round-24 leader's lease outlasts a round-23 follower's refusal: the upgrade goes in two steps (docs/swarm.md).
ROUND_23 = ElectionParams(heartbeat_interval_s=0.1, election_timeout_min_s=0.2, election_timeout_max_s=0.35)
UPGRADE_STEP_1 = ElectionParams(lease_safety_factor=0.72)  # round 24's timing, the lease held at round 23's


def _most_leases_after_isolating(leader_params, follower_params, seed):
    """Five members; ``a`` (``leader_params``) is elected while the others cannot reach one another and cut off
    from everyone as soon as it holds a lease (its followers have no measure of its lateness yet); the others
    (``follower_params``, plain randomized timeouts) elect a successor. Returns the most valid leases at one time."""
    ids = ("a", "b", "c", "d", "e")
    plain = dataclasses.replace(follower_params, election_stagger_s=0.0)
    members = {i: Member(i, ROSTER, leader_params if i == "a" else plain, random.Random(f"{seed}{i}"), 0.0)
               for i in ids}
    apart = frozenset((x, y) for x in ids[1:] for y in ids[1:] if x != y)
    t = 0.0
    while leaders(members, t) != {"a"}:
        t = run(members, t + 0.001, start=t, blocked=apart)
        assert t < 3.0
    cut = frozenset((x, y) for x in ids for y in ids if x != y and "a" in (x, y))
    most = 1
    for _ in range(600):  # 0.6 s in 1 ms steps: past the isolated lease and the successor's election
        t = run(members, t + 0.001, start=t, blocked=cut)
        most = max(most, len(leaders(members, t)))
    assert any(m.lease_valid(t) for i, m in members.items() if i != "a")  # a successor was elected
    return most


def test_a_longer_lease_beside_a_shorter_vote_refusal_overlaps_so_timing_changes_go_in_two_steps():
    assert not P.lease_safe_beside(ROUND_23)  # round 24's lease against a round-23 follower
    assert P.lease_safe_beside(P) and ROUND_23.lease_safe_beside(ROUND_23)
    for first, second in ((ROUND_23, UPGRADE_STEP_1), (UPGRADE_STEP_1, P)):  # each step mixes two safe settings
        assert first.lease_safe_beside(second) and second.lease_safe_beside(first)
    seeds = range(10)
    assert max(_most_leases_after_isolating(P, ROUND_23, s) for s in seeds) == 2  # the hazard is real
    for leader, followers in ((UPGRADE_STEP_1, ROUND_23), (ROUND_23, UPGRADE_STEP_1), (P, UPGRADE_STEP_1),
                              (UPGRADE_STEP_1, P)):
        assert max(_most_leases_after_isolating(leader, followers, s) for s in seeds) == 1
