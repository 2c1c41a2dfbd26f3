"""Members' reports to the leader (MemberReport, added for sigma_fleet_tasks): addressed to the leader a member
follows, passed on only by a member that leads with a valid lease, and carried over the signed wire format."""

from __future__ import annotations

import random

from sigma_swarm.core import ElectionParams, Member, MemberReport, Roster
from sigma_swarm.wire import decode_message, encode_message

P = ElectionParams()
ROSTER = Roster(1, frozenset({"a", "b", "c"}))


def run(members, until, step=0.001):
    t = 0.0
    while t < until:
        queue = []
        for m in members.values():
            queue += [(m.id, s) for s in m.tick(t).sends]
        while queue:
            sender, send = queue.pop(0)
            for to in [send.to] if send.to else [i for i in members if i != sender]:
                queue += [(to, s) for s in members[to].handle(send.message, t).sends]
        t += step
    return t


def test_a_report_reaches_only_the_leader_and_only_while_it_leads():
    members = {i: Member(i, ROSTER, P, random.Random(i), 0.0) for i in sorted(ROSTER.members)}
    now = run(members, 3.0)
    [leader] = [m for m in members.values() if m.lease_valid(now)]
    follower = next(m for m in members.values() if m is not leader)
    assert leader.member_report("task_status", b"x", now) is None  # a leader does not report to itself
    send = follower.member_report("task_status", b'{"task_id": "t1"}', now)
    assert send is not None and send.to == leader.id and send.message.term == leader.term
    assert leader.handle(send.message, now).reports == [send.message]
    other = next(m for m in members.values() if m not in (leader, follower))
    assert other.handle(send.message, now).reports == []  # not addressed to it, and it does not lead
    later = now + 10.0  # no heartbeats acknowledged since: the lease lapsed
    assert leader.handle(send.message, later).reports == []
    assert leader.counters["report_not_leader"] >= 1


def test_member_report_round_trips_the_wire_codec():
    msg = MemberReport("a", 4, 1, "b", 7, "task_status", b'{"state": 2}')
    kind, body = encode_message(msg)
    assert kind == 9 and decode_message(kind, body) == msg
