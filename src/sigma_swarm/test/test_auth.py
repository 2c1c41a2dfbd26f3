"""Signed frames and the cloud-signed roster, without DDS: every kind of bad input is dropped with its reason."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from sigma_protocol import b64encode
from sigma_swarm.auth import MAX_TERM_JUMP, REPLAY_WINDOW, Signer, Verifier
from sigma_swarm.core import HeartbeatAck, LeaderCommand, LeaderHeartbeat, MemberHeartbeat
from sigma_swarm.roster import RosterError, sign_roster, verify_roster
from sigma_swarm.wire import Frame, decode_message, encode_message, signed_bytes

CLOUD = SigningKey.generate()
KEYS = {i: SigningKey.generate() for i in ("r1", "r2", "r3", "intruder")}


def roster(version=1, ids=("r1", "r2", "r3"), site="s1", cloud=CLOUD):
    doc = sign_roster(cloud, site, version, [(i, b64encode(bytes(KEYS[i].verify_key))) for i in ids], 1.0)
    return verify_roster(doc, CLOUD.verify_key, "s1")


def hb(sender="r1", term=1):
    return LeaderHeartbeat(sender, term, 1, 7)


@pytest.fixture
def verifier():
    return Verifier("s1", "r2", roster())


def test_every_message_kind_round_trips_through_cdr():
    for msg in (hb(), MemberHeartbeat("r1", 3, 2, "r2", True), HeartbeatAck("r1", 2, 1, "r3", 9),
                LeaderCommand("r1", 4, 1, 3, "assign", b"\x00\xfftask")):
        kind, body = encode_message(msg)
        assert decode_message(kind, body) == msg


def test_signed_frame_is_accepted_once(verifier):
    frame = Signer("s1", "r1", KEYS["r1"], boot=1).frame(hb())
    assert verifier.accept(frame, own_term=0) == hb()
    assert verifier.accept(frame, own_term=0) is None
    assert verifier.drops == {"replay": 1}


def test_reordered_frames_inside_the_window_are_fine_and_old_ones_are_replays(verifier):
    signer = Signer("s1", "r1", KEYS["r1"], boot=1)
    frames = [signer.frame(hb(term=t)) for t in range(1, REPLAY_WINDOW + 3)]
    assert verifier.accept(frames[5], 0) is not None
    assert verifier.accept(frames[3], 0) is not None  # late but unseen
    assert verifier.accept(frames[-1], 0) is not None
    assert verifier.accept(frames[0], 0) is None  # fell out of the window
    assert verifier.drops == {"replay": 1}


def test_restart_with_next_boot_counter_is_accepted(verifier):
    assert verifier.accept(Signer("s1", "r1", KEYS["r1"], boot=1).frame(hb()), 0)
    assert verifier.accept(Signer("s1", "r1", KEYS["r1"], boot=2).frame(hb()), 0)


def _resign(frame: Frame, key: SigningKey, **changes) -> Frame:
    fields = {**vars(frame), **changes}
    fields["body"], fields["signature"] = bytes(fields["body"]), bytes(fields["signature"])
    if "signature" not in changes:
        fields["signature"] = key.sign(signed_bytes(fields["site"], fields["sender"], fields["counter"],
                                                    fields["kind"], fields["body"])).signature
    return Frame(**fields)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda f: _resign(f, KEYS["intruder"]), "bad_signature"),                       # forged: wrong key
    (lambda f: _resign(f, KEYS["intruder"], sender="intruder"), "unknown_sender"),   # unlisted robot
    (lambda f: _resign(f, KEYS["r1"], site="other"), "wrong_site"),
    (lambda f: _resign(f, KEYS["r1"], signature=b"\x01" * 63), "bad_size"),
    (lambda f: _resign(f, KEYS["r1"], body=b""), "bad_size"),
    (lambda f: _resign(f, KEYS["r1"], kind=42), "unknown_kind"),
    (lambda f: _resign(f, KEYS["r1"], body=b"\x00\x01\x00\x00\xff\xff\xff\x7f"), "malformed_cdr"),
    (lambda f: _resign(f, KEYS["r1"], body=encode_message(hb(sender="r3"))[1]), "sender_mismatch"),
    (lambda f: _resign(f, KEYS["r1"], body=encode_message(hb(term=MAX_TERM_JUMP + 10))[1]), "absurd_term"),
    (lambda f: _resign(f, KEYS["r1"], body=encode_message(hb(term=-5))[1]), "absurd_term"),
])
def test_bad_frames_are_dropped_with_a_counted_reason(verifier, make, reason):
    frame = make(Signer("s1", "r1", KEYS["r1"], boot=1).frame(hb()))
    assert verifier.accept(frame, own_term=3) is None
    assert verifier.drops == {reason: 1}
    assert verifier.accepted == 0


def test_tampered_body_breaks_the_signature(verifier):
    frame = Signer("s1", "r1", KEYS["r1"], boot=1).frame(hb(term=1))
    tampered = _resign(frame, KEYS["r1"], body=encode_message(hb(term=9))[1], signature=bytes(frame.signature))
    assert verifier.accept(tampered, 0) is None and verifier.drops == {"bad_signature": 1}


def test_revoked_robot_is_out_after_one_roster_refresh(verifier):
    signer = Signer("s1", "r3", KEYS["r3"], boot=1)
    assert verifier.accept(signer.frame(hb("r3")), 0) is not None
    verifier.set_roster(roster(version=2, ids=("r1", "r2")))
    assert verifier.accept(signer.frame(hb("r3")), 0) is None
    assert verifier.drops == {"revoked_sender": 1}


def test_roster_refuses_wrong_key_site_rollback_and_garbage():
    good = sign_roster(CLOUD, "s1", 5, [("r1", b64encode(bytes(KEYS["r1"].verify_key)))], 1.0)
    assert verify_roster(good, CLOUD.verify_key, "s1").members == {"r1"}
    forged = sign_roster(SigningKey.generate(), "s1", 6, [("r1", b64encode(bytes(KEYS["r1"].verify_key)))], 1.0)
    with pytest.raises(RosterError, match="does not verify"):
        verify_roster(forged, CLOUD.verify_key, "s1")
    with pytest.raises(RosterError, match="site"):
        verify_roster(good, CLOUD.verify_key, "s2")
    with pytest.raises(RosterError, match="older"):
        verify_roster(good, CLOUD.verify_key, "s1", min_version=6)
    with pytest.raises(RosterError):
        verify_roster({"roster": "!!", "signature": "x"}, CLOUD.verify_key, "s1")
    bad_key = sign_roster(CLOUD, "s1", 7, [("r1", "bm90LWEta2V5")], 1.0)
    with pytest.raises(RosterError, match="32 bytes"):
        verify_roster(bad_key, CLOUD.verify_key, "s1")
