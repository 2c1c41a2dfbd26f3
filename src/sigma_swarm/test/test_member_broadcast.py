"""Members' broadcasts (MemberBroadcast, wire kind 10, added for sigma_fleet_tasks' traffic routes): from any member
to every member, with or without a leader, carried over the signed wire format and dropped by the same checks as
every frame (forged signature, replay)."""

from __future__ import annotations

import random

from nacl.signing import SigningKey
from test_auth import CLOUD, KEYS, roster

from sigma_swarm.auth import Signer, Verifier
from sigma_swarm.core import ElectionParams, Member, MemberBroadcast, Roster
from sigma_swarm.roster import derive_mesh_key
from sigma_swarm.wire import KIND_OF, decode_message, encode_message

P = ElectionParams()
ROSTER = Roster(1, frozenset({"r1", "r2", "r3"}))


def test_a_broadcast_reaches_every_member_without_a_leader():
    members = {i: Member(i, ROSTER, P, random.Random(i), 0.0) for i in sorted(ROSTER.members)}
    send = members["r1"].member_broadcast("traffic_route", b"\x01route")
    assert send.to is None  # to everyone
    assert not any(m.lease_valid(0.0) for m in members.values())  # nobody leads yet
    for other in ("r2", "r3"):
        out = members[other].handle(send.message, 0.0)
        assert out.broadcasts == [send.message] and out.commands == [] and out.reports == []
        assert members[other].counters["broadcast_received"] == 1
    assert members["r1"].handle(send.message, 0.0).broadcasts == []  # its own message
    stranger = MemberBroadcast("r9", 0, 1, 1, "traffic_route", b"x")
    assert members["r2"].handle(stranger, 0.0).broadcasts == []  # not in the roster
    second = members["r1"].member_broadcast("traffic_route", b"\x02")
    assert second.message.seq == send.message.seq + 1


def test_member_broadcast_round_trips_the_wire_codec():
    msg = MemberBroadcast("r1", 4, 1, 7, "traffic_route", bytes(range(256)) * 3)
    kind, body = encode_message(msg)
    assert kind == KIND_OF[MemberBroadcast] == 10 and decode_message(kind, body) == msg


def test_forged_and_replayed_broadcasts_are_dropped():
    verifier = Verifier("s1", "r2", roster())
    mesh_key = derive_mesh_key(CLOUD, "s1", 1)
    genuine = Signer("s1", "r1", KEYS["r1"], boot=1, mesh_key=mesh_key)
    msg = MemberBroadcast("r1", 0, 1, 1, "traffic_route", b"route")
    frame = genuine.frame(msg)
    assert verifier.accept(frame, own_term=0) == msg
    assert verifier.accept(frame, own_term=0) is None  # replayed
    forger = Signer("s1", "r1", SigningKey.generate(), boot=1, mesh_key=mesh_key)  # r1's name, another key
    assert verifier.accept(forger.frame(MemberBroadcast("r1", 0, 1, 2, "traffic_route", b"fake")), own_term=0) is None
    assert verifier.drops == {"replay": 1, "bad_signature": 1}
