"""What a listener without the mesh key learns from a frame: exactly the clear header documented in docs/swarm.md
("What the frame header exposes") — site, sender, counter (boot number and frame count), kind, body length,
signature — and nothing of the message itself (term, roster version, leader, addressee, sequence numbers, votes,
command kinds and payloads)."""

from __future__ import annotations

import dataclasses
import itertools
import struct

from nacl.signing import SigningKey

from sigma_protocol import b64encode
from sigma_swarm.auth import Signer, Verifier
from sigma_swarm.core import messages as m
from sigma_swarm.roster import derive_mesh_key, sign_roster, verify_roster
from sigma_swarm.wire import KINDS, DecodeError, Frame, decode_message, encode_message

CLOUD = SigningKey.generate()
KEYS = {i: SigningKey.generate() for i in ("leader-7", "robot-b", "robot-c")}
SITE = "depot-north"
DOCUMENTED_CLEAR_FIELDS = ("site", "sender", "counter", "kind", "body", "signature")  # docs/swarm.md
SECRET_TERM, SECRET_VERSION, SECRET_SEQ = 7_654_321, 4_242, 31_337
# Every value searched for must be long enough not to occur by chance in random ciphertext: a one-byte secret (the
# default ack_mask 0 as the text "0") would be found in ~30 % of bodies.
SECRET_MASK = 0x5A5A_1234

MESSAGES = [
    m.MemberHeartbeat("leader-7", SECRET_TERM, SECRET_VERSION, "robot-b", True),
    m.PreVoteRequest("leader-7", SECRET_TERM, SECRET_VERSION),
    m.PreVoteResponse("leader-7", SECRET_TERM, SECRET_VERSION, "robot-c", True),
    m.VoteRequest("leader-7", SECRET_TERM, SECRET_VERSION),
    m.VoteResponse("leader-7", SECRET_TERM, SECRET_VERSION, "robot-c", False),
    m.LeaderHeartbeat("leader-7", SECRET_TERM, SECRET_VERSION, SECRET_SEQ, SECRET_MASK),
    m.HeartbeatAck("leader-7", SECRET_TERM, SECRET_VERSION, "robot-c", SECRET_SEQ),
    m.LeaderCommand("leader-7", SECRET_TERM, SECRET_VERSION, SECRET_SEQ, "assign-tote", b"tote 17 to dock B"),
    m.MemberReport("leader-7", SECRET_TERM, SECRET_VERSION, "robot-c", SECRET_SEQ, "task-done", b"tote 17 at B"),
]


def _secrets(msg: m.Message) -> list[bytes]:
    """Every value of ``msg`` but its sender, in the encodings a listener could search for."""
    out = []
    for name, value in vars(msg).items():
        if name == "sender" or isinstance(value, bool):
            continue
        if isinstance(value, int):
            out += [struct.pack("<q", value), struct.pack(">q", value), str(value).encode()]
        elif isinstance(value, str):
            out.append(value.encode())
        else:
            out.append(bytes(value))
    return out


def test_the_frame_type_has_only_the_documented_clear_fields():
    # The Frame struct is public (DDS discovery announces its type); adding a field here must update the docs.
    assert tuple(f.name for f in dataclasses.fields(Frame)) == DOCUMENTED_CLEAR_FIELDS


def test_an_outsider_learns_only_the_header():
    signer = Signer(SITE, "leader-7", KEYS["leader-7"], boot=5, mesh_key=derive_mesh_key(CLOUD, SITE, 1))
    for msg in MESSAGES:
        frame = signer.frame(msg)
        body = bytes(frame.body)
        # the documented header, as documented
        assert (frame.site, frame.sender, frame.kind) == (SITE, "leader-7", encode_message(msg)[0])
        assert frame.counter >> 32 == 5  # the sender's boot number (restarts), then its frame count in this boot
        assert len(body) == len(encode_message(msg)[1]) + 40  # plaintext length + nonce (24) + MAC (16)
        # nothing else: no value of the message appears in the body, in any byte order or as text
        for secret in _secrets(msg):
            assert secret not in body, (type(msg).__name__, secret)
        # and the body decodes as no message kind at all
        for kind in KINDS:
            try:
                decode_message(kind, body)
            except DecodeError:
                continue
            raise AssertionError(f"ciphertext of {type(msg).__name__} decoded as kind {kind}")


def test_equal_messages_cannot_be_linked_and_terms_do_not_change_the_length():
    signer = Signer(SITE, "leader-7", KEYS["leader-7"], boot=1, mesh_key=derive_mesh_key(CLOUD, SITE, 1))
    heartbeat = m.LeaderHeartbeat("leader-7", 3, 1, 9)
    bodies = [bytes(signer.frame(heartbeat).body) for _ in range(20)]
    assert len(set(bodies)) == 20  # a fresh random nonce each time: a repeated message looks new
    lengths = {len(bytes(signer.frame(m.LeaderHeartbeat("leader-7", term, 1, seq)).body))
               for term, seq in itertools.product((1, 2**40, 2**62), (1, 2**50))}
    assert len(lengths) == 1  # fixed-size fields: a term or sequence number does not show in the length


def test_the_same_frames_are_readable_by_a_listed_member():
    """The other side of the coin (the tests above are not vacuous): a roster member reads every message."""
    doc = sign_roster(CLOUD, SITE, 1, [(i, b64encode(bytes(k.verify_key))) for i, k in KEYS.items()], 1.0,
                      mesh_key=derive_mesh_key(CLOUD, SITE, 1))
    member = Verifier(SITE, "robot-b", verify_roster(doc, CLOUD.verify_key, SITE, own_id="robot-b",
                                                     own_key=KEYS["robot-b"]))
    signer = Signer(SITE, "leader-7", KEYS["leader-7"], boot=5, mesh_key=derive_mesh_key(CLOUD, SITE, 1))
    assert [member.accept(signer.frame(msg), SECRET_TERM) for msg in MESSAGES] == MESSAGES


def _leader_and_two_members() -> tuple[Signer, dict[str, Verifier]]:
    """leader-7's signer with every listed robot as a peer, and the verifiers of robot-b and robot-c (roster 1)."""
    peers = {i: k.verify_key for i, k in KEYS.items()}
    signer = Signer(SITE, "leader-7", KEYS["leader-7"], boot=5, mesh_key=derive_mesh_key(CLOUD, SITE, 1),
                    peers=peers)
    doc = sign_roster(CLOUD, SITE, 1, [(i, b64encode(bytes(k.verify_key))) for i, k in KEYS.items()], 1.0,
                      mesh_key=derive_mesh_key(CLOUD, SITE, 1))
    readers = {i: Verifier(SITE, i, verify_roster(doc, CLOUD.verify_key, SITE, own_id=i, own_key=KEYS[i]),
                           own_key=KEYS[i]) for i in ("robot-b", "robot-c")}
    return signer, readers


def test_a_pair_sealed_frame_shows_the_same_header_and_only_its_addressee_reads_it():
    """Addressed messages (answers to votes, acknowledgements, reports) are sealed with the sender's and the
    addressee's pair key instead of signed: same header, empty signature field, no value of the message in the body,
    and only the addressee — not another listed member — reads it."""
    signer, readers = _leader_and_two_members()
    addressed = [msg for msg in MESSAGES if getattr(msg, "to", None)]
    assert len(addressed) == 4
    for msg in addressed:
        frame = signer.frame(msg)
        body = bytes(frame.body)
        assert (frame.site, frame.sender, frame.kind, frame.counter >> 32) == (SITE, "leader-7",
                                                                               encode_message(msg)[0], 5)
        assert bytes(frame.signature) == b"" and len(body) == len(encode_message(msg)[1]) + 40
        for secret in _secrets(msg):
            assert secret not in body, (type(msg).__name__, secret)
        assert readers["robot-c"].accept(frame, SECRET_TERM) == msg  # the addressee
        assert readers["robot-b"].accept(frame, SECRET_TERM) is None  # a listed bystander
    assert readers["robot-b"].drops == {"bad_signature": 4}


def test_a_tagged_heartbeat_shows_the_same_header_and_every_listed_member_reads_it():
    """Round 20: membership and leader heartbeats carry one tag per roster peer instead of a signature. The header
    is the same, the signature field empty; the body is the tag count, the tags (one per peer: the sender's roster
    size shows, which discovery shows anyway) and the same encrypted body — no value of the message in it, its
    length independent of terms and sequence numbers; every listed member reads it."""
    signer, readers = _leader_and_two_members()
    tagged = [msg for msg in MESSAGES if isinstance(msg, (m.MemberHeartbeat, m.LeaderHeartbeat))]
    for msg in tagged:
        frame = signer.frame(msg)
        body = bytes(frame.body)
        assert (frame.site, frame.sender, frame.kind, frame.counter >> 32) == (SITE, "leader-7",
                                                                               encode_message(msg)[0], 5)
        assert bytes(frame.signature) == b"" and len(body) == 1 + 2 * 16 + len(encode_message(msg)[1]) + 40
        for secret in _secrets(msg):
            assert secret not in body, (type(msg).__name__, secret)
        for reader in readers.values():
            assert reader.accept(frame, SECRET_TERM) == msg
    lengths = {len(bytes(signer.frame(m.LeaderHeartbeat("leader-7", term, 1, seq, SECRET_MASK)).body))
               for term, seq in itertools.product((1, 2**40, 2**62), (1, 2**50))}
    assert len(lengths) == 1
