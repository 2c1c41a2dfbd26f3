"""Signed (and encrypted) frames and the cloud-signed roster, without DDS: every kind of bad input is dropped with
its reason; a robot outside the roster cannot read the mesh, a tampered message is refused."""

from __future__ import annotations

import pytest
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from sigma_protocol import b64encode
from sigma_swarm.auth import MAX_TERM_JUMP, REPLAY_WINDOW, RedundantAckFilter, Signer, Verifier
from sigma_swarm.core import HeartbeatAck, LeaderCommand, LeaderHeartbeat, MemberHeartbeat, VoteResponse
from sigma_swarm.roster import RosterError, derive_mesh_key, sign_roster, verify_roster
from sigma_swarm.runtime import load_signing_key
from sigma_swarm.wire import KIND_OF, Frame, decode_message, encode_message, signed_bytes

CLOUD = SigningKey.generate()
KEYS = {i: SigningKey.generate() for i in ("r1", "r2", "r3", "intruder")}


def roster(version=1, ids=("r1", "r2", "r3"), site="s1", cloud=CLOUD, own="r2"):
    """The roster as robot ``own`` verifies it (opening the mesh key sealed to it), as the cloud signs it."""
    doc = sign_roster(cloud, site, version, [(i, b64encode(bytes(KEYS[i].verify_key))) for i in ids], 1.0,
                      mesh_key=derive_mesh_key(cloud, site, version))
    return verify_roster(doc, CLOUD.verify_key, "s1", own_id=own, own_key=KEYS[own])


def signer(robot_id="r1", boot=1, version=1):
    return Signer("s1", robot_id, KEYS[robot_id], boot=boot, mesh_key=derive_mesh_key(CLOUD, "s1", version))


def enc(body: bytes, version=1) -> bytes:
    """A body encrypted with the site's mesh key of ``version`` (what an insider could produce)."""
    return bytes(SecretBox(derive_mesh_key(CLOUD, "s1", version)).encrypt(body))


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
    frame = signer("r1").frame(hb())
    assert verifier.accept(frame, own_term=0) == hb()
    assert verifier.accept(frame, own_term=0) is None
    assert verifier.drops == {"replay": 1}


def test_reordered_frames_inside_the_window_are_fine_and_old_ones_are_replays(verifier):
    r1 = signer("r1")
    frames = [r1.frame(hb(term=t)) for t in range(1, REPLAY_WINDOW + 3)]
    assert verifier.accept(frames[5], 0) is not None
    assert verifier.accept(frames[3], 0) is not None  # late but unseen
    assert verifier.accept(frames[-1], 0) is not None
    assert verifier.accept(frames[0], 0) is None  # fell out of the window
    assert verifier.drops == {"replay": 1}


def test_restart_with_next_boot_counter_is_accepted(verifier):
    assert verifier.accept(signer("r1").frame(hb()), 0)
    assert verifier.accept(signer("r1", boot=2).frame(hb()), 0)


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
    (lambda f: _resign(f, KEYS["r1"], body=enc(b"\x00\x01\x00\x00\xff\xff\xff\x7f")), "malformed_cdr"),
    (lambda f: _resign(f, KEYS["r1"], body=enc(encode_message(hb(sender="r3"))[1])), "sender_mismatch"),
    (lambda f: _resign(f, KEYS["r1"], body=enc(encode_message(hb(term=MAX_TERM_JUMP + 10))[1])), "absurd_term"),
    (lambda f: _resign(f, KEYS["r1"], body=enc(encode_message(hb(term=-5))[1])), "absurd_term"),
    (lambda f: _resign(f, KEYS["r1"], body=encode_message(hb())[1]), "undecryptable"),  # plaintext body
])
def test_bad_frames_are_dropped_with_a_counted_reason(verifier, make, reason):
    frame = make(signer("r1").frame(hb()))
    assert verifier.accept(frame, own_term=3) is None
    assert verifier.drops == {reason: 1}
    assert verifier.accepted == 0


def test_tampered_body_breaks_the_signature(verifier):
    frame = signer("r1").frame(hb(term=1))
    tampered = _resign(frame, KEYS["r1"], body=encode_message(hb(term=9))[1], signature=bytes(frame.signature))
    assert verifier.accept(tampered, 0) is None and verifier.drops == {"bad_signature": 1}


def test_revoked_robot_is_out_after_one_roster_refresh(verifier):
    r3 = signer("r3")
    assert verifier.accept(r3.frame(hb("r3")), 0) is not None
    verifier.set_roster(roster(version=2, ids=("r1", "r2")))
    assert verifier.accept(r3.frame(hb("r3")), 0) is None
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


def test_payload_is_encrypted_and_readable_by_listed_members_only(verifier):
    command = LeaderCommand("r1", 4, 1, 3, "assign", b"tote 17 to dock B")
    frame = signer("r1").frame(command)
    body = bytes(frame.body)
    assert b"tote 17" not in body and b"assign" not in body and encode_message(command)[1] not in body
    assert verifier.encrypted and verifier.accept(frame, 0) == command
    # A robot outside the roster can fetch and verify the signed document, but gets no mesh key from it, so it has
    # no key to read with; any other key fails authentication.
    unlisted = verify_roster(sign_roster(CLOUD, "s1", 1, [(i, b64encode(bytes(KEYS[i].verify_key)))
                                                          for i in ("r1", "r2", "r3")], 1.0,
                                         mesh_key=derive_mesh_key(CLOUD, "s1", 1)),
                             CLOUD.verify_key, "s1", own_id="intruder", own_key=KEYS["intruder"])
    assert unlisted.mesh_key is None
    with pytest.raises(CryptoError):
        SecretBox(derive_mesh_key(SigningKey.generate(), "s1", 1)).decrypt(body)


def test_tampered_ciphertext_is_refused_even_when_re_signed_by_a_member(verifier):
    frame = signer("r1").frame(LeaderCommand("r1", 4, 1, 3, "assign", b"tote 17"))
    flipped = bytearray(frame.body)
    flipped[-1] ^= 0x01
    # Not re-signed: the signature fails first.
    assert verifier.accept(_resign(frame, KEYS["r1"], body=bytes(flipped), signature=bytes(frame.signature)), 0) \
        is None
    # Re-signed by a listed member (an insider with its own key): the Poly1305 tag still refuses the altered text.
    assert verifier.accept(_resign(frame, KEYS["r1"], body=bytes(flipped)), 0) is None
    assert verifier.drops == {"bad_signature": 1, "undecryptable": 1} and verifier.accepted == 0


def test_a_revoked_robot_cannot_read_the_next_roster_versions_traffic():
    old = Verifier("s1", "r3", roster(version=1, own="r3"))  # r3 still on version 1, revoked in version 2
    frame = signer("r1", version=2).frame(hb())
    assert old.accept(frame, 0) is None and old.drops == {"undecryptable": 1}


def test_previous_mesh_key_is_read_while_members_move_to_a_new_roster(verifier):
    verifier.set_roster(roster(version=2))
    assert verifier.accept(signer("r1", version=2).frame(hb(term=2)), 0) is not None
    assert verifier.accept(signer("r3", version=1).frame(hb("r3", term=2)), 0) is not None  # not moved yet
    verifier.set_roster(roster(version=3))
    assert verifier.accept(signer("r3", boot=2, version=1).frame(hb("r3", term=3)), 0) is None  # two versions old
    assert verifier.drops == {"undecryptable": 1}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_may_read_is_refused_naming_path_and_mode(tmp_path, mode):
    path = tmp_path / "robot.key"
    path.write_text(b64encode(bytes(KEYS["r1"])))
    path.chmod(mode)
    with pytest.raises(PermissionError) as caught:
        load_signing_key(path)
    assert str(path) in str(caught.value) and f"{mode:04o}" in str(caught.value) and "0600" in str(caught.value)


def test_a_key_file_of_mode_0600_or_0400_is_loaded(tmp_path):
    path = tmp_path / "robot.key"
    path.write_text(b64encode(bytes(KEYS["r1"])))
    for mode in (0o600, 0o400):
        path.chmod(mode)
        assert bytes(load_signing_key(path).verify_key) == bytes(KEYS["r1"].verify_key)
    with pytest.raises(ValueError, match="missing"):
        load_signing_key(tmp_path / "absent.key")


def test_redundant_acks_are_dropped_unverified_only_after_the_majority_and_never_all_from_one_sender():
    acks = RedundantAckFilter(verify_every=4)
    assert not any(acks.skip("r1", round_settled=False) for _ in range(10))  # an open round: verify every one
    pattern = [acks.skip("r1", round_settled=True) for _ in range(8)]
    assert pattern == [True, True, True, False, True, True, True, False]  # every 4th is verified anyway
    assert acks.skip("r2", round_settled=True)  # counted per sender
    assert acks.dropped == 7


def pair_signer(robot_id="r1", boot=1):
    """A signer that pair-seals addressed messages, as the runtime's (it knows the roster's keys)."""
    return Signer("s1", robot_id, KEYS[robot_id], boot=boot, mesh_key=derive_mesh_key(CLOUD, "s1", 1),
                  peers={i: KEYS[i].verify_key for i in ("r1", "r2", "r3")})


def test_an_addressed_message_is_pair_sealed_and_only_its_addressee_reads_it():
    ack = HeartbeatAck("r1", 2, 1, "r2", 9)
    frame = pair_signer("r1").frame(ack)
    assert bytes(frame.signature) == b"" and encode_message(ack)[1] not in bytes(frame.body)
    addressee = Verifier("s1", "r2", roster(), own_key=KEYS["r2"])
    assert addressee.accept(frame, 0) == ack
    assert addressee.accept(frame, 0) is None and addressee.drops == {"replay": 1}  # replay window as for signed
    # Another listed member (it has the mesh key, not the pair's key) cannot read or accept it.
    bystander = Verifier("s1", "r3", roster(own="r3"), own_key=KEYS["r3"])
    assert bystander.accept(frame, 0) is None and bystander.drops == {"bad_signature": 1}
    # A broadcast kind other than the heartbeats (round 20: tagged) is always signed, even by a signer that knows
    # its peers.
    assert len(bytes(pair_signer("r1").frame(LeaderCommand("r1", 4, 1, 3, "assign", b"x")).signature)) == 64


@pytest.mark.parametrize("tamper", ["forged", "counter", "kind", "sender", "body", "broadcast_kind", "no_own_key"])
def test_a_pair_sealed_frame_that_is_not_authentic_is_dropped(tamper):
    frame = pair_signer("r1").frame(HeartbeatAck("r1", 2, 1, "r2", 9))
    fields = {**vars(frame), "body": bytes(frame.body), "signature": b""}
    verifier = Verifier("s1", "r2", roster(), own_key=KEYS["r2"])
    if tamper == "forged":  # r1's name, sealed with the intruder's key to r2
        forger = Signer("s1", "r1", KEYS["intruder"], boot=1, peers={"r2": KEYS["r2"].verify_key})
        fields = {**vars(forger.frame(HeartbeatAck("r1", 2, 1, "r2", 9))), "signature": b""}
    elif tamper == "counter":  # the header is associated data: a moved counter (a replay dodge) fails the MAC
        fields["counter"] += 1000
    elif tamper == "kind":
        fields["kind"] = KIND_OF[VoteResponse]
    elif tamper == "sender":  # r3 claims r1's frame to r2 as its own
        fields["sender"] = "r3"
    elif tamper == "body":
        fields["body"] = fields["body"][:-1] + bytes([fields["body"][-1] ^ 1])
    elif tamper == "broadcast_kind":  # only addressed kinds may come without a signature
        fields["kind"] = KIND_OF[LeaderHeartbeat]
    else:
        verifier = Verifier("s1", "r2", roster())
    assert verifier.accept(Frame(**fields), 0) is None
    assert verifier.drops == {"bad_signature": 1} and verifier.accepted == 0


def test_the_direct_pair_seal_is_pynacls_xchacha20poly1305_byte_for_byte():
    """Round 7: auth calls libsodium through PyNaCl's cffi binding without PyNaCl's wrapper; same bytes both ways, a
    wrong tag, key, nonce or associated data is None (never an exception), and wrong lengths never reach the C call."""
    import os

    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as pynacl_open
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as pynacl_seal

    from sigma_swarm.auth import _aead_open, _aead_seal, _open_buffers, _pair_ad, _pair_ad_prefix

    for size in (0, 1, 45, 900):
        message, ad, nonce, key = os.urandom(size), os.urandom(size % 50), os.urandom(24), os.urandom(32)
        sealed = _aead_seal(message, ad, nonce, key)
        assert sealed == pynacl_seal(message, ad, nonce, key)
        assert _aead_open(sealed, ad, nonce, key) == message == pynacl_open(sealed, ad, nonce, key)
        # round 20: a reused output buffer (the verifier's), and one too small for the plaintext (not used)
        buffers, small = _open_buffers(1024), _open_buffers(10)
        assert _aead_open(sealed, ad, nonce, key, buffers) == message == _aead_open(sealed, ad, nonce, key, small)
        assert _aead_open(sealed, ad + b"x", nonce, key, buffers) is None
        assert _aead_open(sealed[:-1] + bytes([sealed[-1] ^ 1]), ad, nonce, key) is None
        assert _aead_open(sealed, ad + b"x", nonce, key) is None
        assert _aead_open(sealed, ad, os.urandom(24), key) is None
        assert _aead_open(sealed, ad, nonce, os.urandom(32)) is None
        assert _aead_open(sealed, ad, nonce[:23], key) is None and _aead_open(sealed, ad, nonce, key[:31]) is None
        assert _aead_open(sealed[:15], ad, nonce, key) is None
    with pytest.raises(ValueError):
        _aead_seal(b"x", b"", b"short", os.urandom(32))
    assert _pair_ad_prefix("s1", "r1") + (5).to_bytes(8, "big") + (7).to_bytes(1, "big") == _pair_ad("s1", "r1", 5, 7)


# ---------------------------------------------------------------- round 20: heartbeats tagged per peer


def peer_verifier(own="r2", version=1, ids=("r1", "r2", "r3")):
    """A listed member's verifier with its own key (it checks tags and pair seals), as the runtime's."""
    return Verifier("s1", own, roster(version, ids=ids, own=own), own_key=KEYS[own])


def test_heartbeats_are_tagged_for_every_peer_and_each_listed_peer_accepts_them_once():
    """Membership and leader heartbeats carry one MAC per roster peer (pair tag keys) instead of a signature; every
    listed peer accepts them (once: the replay window as for signed frames); a robot without its own key or not
    listed does not."""
    member_hb = MemberHeartbeat("r1", 3, 1, "r2", True)
    for msg in (hb(), member_hb):
        frame = pair_signer("r1").frame(msg)
        body = bytes(frame.body)
        assert bytes(frame.signature) == b"" and body[0] == 2  # r2's and r3's tags
        assert len(body) == 1 + 2 * 16 + len(encode_message(msg)[1]) + 40  # count, tags, nonce | ciphertext | MAC
        assert encode_message(msg)[1] not in body  # still encrypted with the mesh key
        for own in ("r2", "r3"):
            verifier = peer_verifier(own)
            assert verifier.accept(frame, 0) == msg
            assert verifier.accept(frame, 0) is None and verifier.drops == {"replay": 1}
        without_key = Verifier("s1", "r2", roster())  # a verifier that cannot compute its tag key
        assert without_key.accept(frame, 0) is None and without_key.drops == {"bad_signature": 1}
        outsider = Verifier("s1", "intruder", roster(), own_key=KEYS["intruder"])  # no tag for it
        assert outsider.accept(frame, 0) is None and outsider.drops == {"bad_signature": 1}
    # Off (a site with members older than round 20), without peers, or other kinds: signed as before.
    off = Signer("s1", "r1", KEYS["r1"], boot=1, mesh_key=derive_mesh_key(CLOUD, "s1", 1),
                 peers={i: KEYS[i].verify_key for i in ("r1", "r2", "r3")}, tag_broadcasts=False)
    assert len(bytes(off.frame(hb()).signature)) == 64 and peer_verifier().accept(off.frame(hb()), 0) == hb()
    assert len(bytes(signer("r1").frame(member_hb).signature)) == 64


def test_tags_that_would_not_fit_the_body_fall_back_to_a_signature():
    many = {f"p{i:03d}": SigningKey.generate().verify_key for i in range(70)}  # 70 x 16 bytes > 1024
    big = Signer("s1", "r1", KEYS["r1"], boot=1, mesh_key=derive_mesh_key(CLOUD, "s1", 1),
                 peers={**many, "r2": KEYS["r2"].verify_key})
    frame = big.frame(hb())
    assert len(bytes(frame.signature)) == 64 and peer_verifier().accept(frame, 0) == hb()


@pytest.mark.parametrize("tamper", ["outsider", "insider", "counter", "kind", "sender", "body", "tag", "count",
                                    "no_tags", "untagged_kind", "truncated"])
def test_a_tagged_heartbeat_that_is_not_authentic_is_dropped(tamper):
    """What a frame with tags cannot be made into: r2 accepts r1's heartbeat only with the tag only r1 and r2 can
    compute over exactly r1's header and body. "insider": r3, listed and holding valid keys (its own pair keys with
    r1 and r2, the mesh key), forges a heartbeat in r1's name for r2 — it cannot compute the r1-r2 tag."""
    frame = pair_signer("r1").frame(hb())
    fields = {**vars(frame), "body": bytes(frame.body), "signature": b""}
    if tamper == "outsider":  # r1's name, tagged with the intruder's key
        forger = Signer("s1", "r1", KEYS["intruder"], boot=1, mesh_key=derive_mesh_key(CLOUD, "s1", 1),
                        peers={"r2": KEYS["r2"].verify_key, "r3": KEYS["r3"].verify_key})
        fields = {**vars(forger.frame(hb(term=9))), "signature": b""}
    elif tamper == "insider":  # r3's keys, r1's name: the tags r3 can compute are r3-r2's and r3-r3's
        forger = Signer("s1", "r1", KEYS["r3"], boot=1, mesh_key=derive_mesh_key(CLOUD, "s1", 1),
                        peers={"r2": KEYS["r2"].verify_key, "r3": KEYS["r3"].verify_key})
        fields = {**vars(forger.frame(hb(term=9))), "signature": b""}
    elif tamper == "counter":  # the header is covered: a moved counter (a replay dodge) fails the tag
        fields["counter"] += 1000
    elif tamper == "kind":  # the other tagged kind
        fields["kind"] = KIND_OF[MemberHeartbeat]
    elif tamper == "sender":  # r3 claims r1's frame as its own
        fields["sender"] = "r3"
    elif tamper == "body":
        fields["body"] = fields["body"][:-1] + bytes([fields["body"][-1] ^ 1])
    elif tamper == "tag":  # every tag altered
        body = bytearray(fields["body"])
        for i in range(2):
            body[1 + 16 * i] ^= 1
        fields["body"] = bytes(body)
    elif tamper == "count":  # one tag fewer: the last tag is read as the body's start
        fields["body"] = bytes([1]) + fields["body"][1:]
    elif tamper == "no_tags":
        fields["body"] = bytes([0]) + fields["body"][33:]
    elif tamper == "untagged_kind":  # only the heartbeats may come tagged
        fields["kind"] = KIND_OF[LeaderCommand]
    else:
        fields["body"] = fields["body"][:33]  # count and tags, nothing else
    verifier = peer_verifier("r2")
    assert verifier.accept(Frame(**fields), 0) is None
    assert verifier.drops == {"bad_signature": 1} and verifier.accepted == 0


def test_a_revoked_robot_cannot_get_a_tagged_heartbeat_accepted_and_gets_no_tags_from_the_others():
    """Revocation: once r2 adopted version 2 (r3 removed), r3's tagged frames are dropped by sender before any tag
    is computed, and a signer on version 2 tags only for the robots still listed."""
    r3_frame = pair_signer("r3").frame(hb(sender="r3"))
    verifier = peer_verifier("r2")
    verifier.set_roster(roster(2, ids=("r1", "r2"), own="r2"))
    assert verifier.accept(r3_frame, 0) is None and verifier.drops == {"revoked_sender": 1}
    r1 = pair_signer("r1")
    r1.set_peers({i: KEYS[i].verify_key for i in ("r1", "r2")})
    r1.set_mesh_key(derive_mesh_key(CLOUD, "s1", 2))
    frame = r1.frame(hb())
    assert bytes(frame.body)[0] == 1  # r2's tag only
    assert verifier.accept(frame, 0) == hb()
    old_r3 = peer_verifier("r3")  # r3 still on version 1: no tag for it (and no key to read it)
    assert old_r3.accept(frame, 0) is None and old_r3.drops == {"bad_signature": 1}
