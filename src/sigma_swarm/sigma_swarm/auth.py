"""Message authenticity and confidentiality on the mesh: Ed25519 signing of frames, verification against the
signed site roster, a replay window per sender, payload encryption with the roster's mesh key, and a counted reason
for every frame dropped.

Pure (no I/O, no clock). Key material comes from ``sigma_protocol`` (the same base64 Ed25519 seeds and public keys
the cloud registered for the device protocol); signatures are PyNaCl's Ed25519. When the roster carries a mesh key
(the cloud always sends one, sealed to each listed robot), the message body is encrypted with PyNaCl's SecretBox
(XSalsa20-Poly1305, random 24-byte nonce) before it is signed: encrypt-then-sign, so a receiver checks the sender's
signature before it spends anything on decryption, and only robots listed in that roster version can read it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import blake2b as _blake2b
from hmac import compare_digest

from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _lib
from nacl.encoding import RawEncoder
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.hash import blake2b
from nacl.public import Box
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from sigma_swarm.core import LeaderHeartbeat, MemberHeartbeat, Message
from sigma_swarm.roster import SiteRoster
from sigma_swarm.wire import (
    KIND_OF,
    KINDS,
    MAX_BODY_BYTES,
    SIGNATURE_BYTES,
    DecodeError,
    Frame,
    decode_message,
    encode_message,
    signed_bytes,
)

REPLAY_WINDOW = 128
MAX_TERM_JUMP = 1_000_000  # a term this far ahead of ours is absurd (or an attack on term exhaustion)
MAX_TERM = 2**62

DROP_REASONS = ("wrong_site", "unknown_sender", "revoked_sender", "bad_size", "unknown_kind", "bad_signature",
                "replay", "undecryptable", "malformed_cdr", "sender_mismatch", "absurd_term")
MESH_KEYS_KEPT = 2  # the current roster's mesh key and the one before (members adopt a new roster at their own time)
# Kinds addressed to one member (the message has a ``to``): sealed with the pair's key instead of signed (see Signer).
ADDRESSED_KINDS = frozenset(kind for kind, (core, _) in KINDS.items() if "to" in core.__dataclass_fields__)
PAIR_NONCE_BYTES = 24
PAIR_KEY_PERSON = b"sigma-swarm-pair"
PAIR_AD_PREFIX = b"pair\x00"
# Round 20: the periodic broadcasts (membership heartbeats, 1 s from every member; the leader's heartbeats, every
# 125 ms) carry one MAC per roster peer under the pair's tag key instead of an Ed25519 signature (see Signer).
TAGGED_KINDS = frozenset({KIND_OF[MemberHeartbeat], KIND_OF[LeaderHeartbeat]})
TAG_KEY_PERSON = b"sigma-swarm-btag"
TAG_AD_PREFIX = b"btag\x00"
TAG_BYTES = 16
MAX_TAGS = 255  # the count is one byte


def _pair_shared(own: SigningKey, peer: VerifyKey) -> bytes:
    """X25519 between the Curve25519 forms of two robots' registered Ed25519 keys (libsodium's conversion, as the
    sealed mesh key uses), through crypto_box's HSalsa20: the secret only these two robots can compute."""
    return Box(own.to_curve25519_private_key(), peer.to_curve25519_public_key()).shared_key()


def pair_keys(own: SigningKey, peer: VerifyKey) -> tuple[bytes, bytes]:
    """The two 32-byte keys only these two robots can compute, from one X25519 (``_pair_shared``) through
    personalised BLAKE2b: the *pair key*, the AEAD key of pair-sealed frames, and (round 20) the *tag key* of
    broadcast tags — another personalisation, so the two uses never share a key. The same for both directions; the
    sender's id in the associated data tells them apart."""
    shared = _pair_shared(own, peer)
    return (blake2b(shared, digest_size=32, person=PAIR_KEY_PERSON, encoder=RawEncoder),
            blake2b(shared, digest_size=32, person=TAG_KEY_PERSON, encoder=RawEncoder))


def _pair_ad(site: str, sender: str, counter: int, kind: int) -> bytes:
    """Associated data of a pair-sealed frame: every clear header field, as a signature would cover them."""
    return PAIR_AD_PREFIX + signed_bytes(site, sender, counter, kind, b"")


_AD_TAIL = 9  # counter (8 bytes) and kind (1), the end of ``signed_bytes`` with an empty body


def _pair_ad_prefix(site: str, sender: str) -> bytes:
    """The part of ``_pair_ad`` that only depends on site and sender (cached per peer; ``_pair_ad_from`` adds the
    rest)."""
    return _pair_ad(site, sender, 0, 0)[:-_AD_TAIL]


def _tag_ad_prefix(site: str, sender: str) -> bytes:
    """The per-sender start of the bytes a broadcast tag covers: ``TAG_AD_PREFIX`` and the signed header fields up
    to the counter (``_pair_ad_from`` adds counter and kind; the body follows)."""
    return TAG_AD_PREFIX + signed_bytes(site, sender, 0, 0, b"")[:-_AD_TAIL]


def _pair_ad_from(prefix: bytes, counter: int, kind: int) -> bytes:
    """``_pair_ad`` from its cached per-peer prefix (OverflowError when counter or kind do not fit their bytes)."""
    return prefix + counter.to_bytes(8, "big") + kind.to_bytes(1, "big")


# Round 7: the AEAD calls go straight to libsodium through PyNaCl's own cffi binding (the function PyNaCl's
# ``crypto_aead_xchacha20poly1305_ietf_encrypt/decrypt`` call, after six Python-level argument checks and an
# exception on failure: ≈ 12 µs of a ≈ 35 µs acknowledgement check at the leader, ≈ 4 µs this way). The lengths
# libsodium relies on are checked here; the bytes are the same (``test_auth.py`` compares both ways).
PAIR_KEY_BYTES = 32
PAIR_MAC_BYTES = 16


def _aead_seal(message: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) of ``message`` with associated data ``ad``: ciphertext | tag."""
    if len(nonce) != PAIR_NONCE_BYTES or len(key) != PAIR_KEY_BYTES:
        raise ValueError("pair seal needs a 24-byte nonce and a 32-byte key")
    out = _ffi.new("unsigned char[]", len(message) + PAIR_MAC_BYTES)
    out_len = _ffi.new("unsigned long long *")
    if _lib.crypto_aead_xchacha20poly1305_ietf_encrypt(out, out_len, message, len(message), ad, len(ad), _ffi.NULL,
                                                       nonce, key) != 0:
        raise CryptoError("pair seal failed")
    return _ffi.buffer(out, out_len[0])[:]


def _aead_open(sealed: bytes, ad: bytes, nonce: bytes, key: bytes, buffers: tuple | None = None) -> bytes | None:
    """The plaintext of ``_aead_seal``'s output, or None if the tag does not match (altered, another key or AD).
    ``buffers``: ``_open_buffers(n)``, reused for every plaintext of up to n bytes (round 20: two cffi allocations
    fewer per acknowledgement at the leader; the plaintext is copied out of it)."""
    if len(nonce) != PAIR_NONCE_BYTES or len(key) != PAIR_KEY_BYTES or len(sealed) < PAIR_MAC_BYTES:
        return None
    if buffers is not None and len(sealed) - PAIR_MAC_BYTES <= buffers[2]:
        out, out_len, _ = buffers
    else:
        out = _ffi.new("unsigned char[]", len(sealed) - PAIR_MAC_BYTES or 1)
        out_len = _ffi.new("unsigned long long *")
    if _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(out, out_len, _ffi.NULL, sealed, len(sealed), ad, len(ad),
                                                       nonce, key) != 0:
        return None
    return _ffi.buffer(out, out_len[0])[:]


def _open_buffers(size: int) -> tuple:
    """(output buffer, its length cell, capacity) for ``_aead_open``: one per Verifier (one thread uses it)."""
    return _ffi.new("unsigned char[]", size), _ffi.new("unsigned long long *"), size


class Signer:
    """Signs (and, with a mesh key, first encrypts) this robot's frames. ``boot`` (persisted, +1 per start) keeps
    counters rising across restarts.

    A message addressed to one member (vote and pre-vote answers, heartbeat acknowledgements, reports) whose
    addressee is in ``peers`` (robot id -> registered key, from the roster) is instead *pair-sealed*:
    XChaCha20-Poly1305 under the pair key (``pair_keys``: only the sender and the addressee can compute it) with the
    clear header as associated data, and an empty signature. Only the addressee reads it, so a signature anyone
    could check buys nothing there, and checking the MAC costs the leader ≈ 3 µs instead of ≈ 40 µs per
    acknowledgement.

    Round 20: a periodic broadcast (``TAGGED_KINDS``: membership and leader heartbeats) is *tagged* instead of
    signed when ``tag_broadcasts`` is on and ``peers`` lists others: after the mesh-key encryption, one 16-byte
    keyed BLAKE2b per peer under the pair's tag key (``pair_keys``) over the clear header and the (encrypted) body,
    prepended to the body with their count (``count (1) | tags | body``), and an empty signature. Each receiver
    computes only its own tag (≈ 2 µs) instead of checking an Ed25519 signature (≈ 100 µs on the development host),
    19 times a second per member at 20 members for the membership heartbeats alone; the sender computes n - 1 tags
    (≈ 45 µs at 20 members) instead of a signature (≈ 75 µs). A frame whose tags would not fit ``MAX_BODY_BYTES`` is
    signed."""

    def __init__(self, site: str, robot_id: str, key: SigningKey, boot: int, mesh_key: bytes | None = None,
                 peers: Mapping[str, VerifyKey] | None = None, tag_broadcasts: bool = True) -> None:
        self.site, self.robot_id, self.key = site, robot_id, key
        self.tag_broadcasts = tag_broadcasts
        self._counter = (boot & 0xFFFFFFFF) << 32
        self._box: SecretBox | None = None
        self.set_mesh_key(mesh_key)
        self._peers: Mapping[str, VerifyKey] = {}
        self._keys: dict[str, tuple[bytes, bytes]] = {}  # peer -> (pair key, tag key), computed at first use
        self._tag_keys: list[bytes] | None = None  # one per peer, in roster order, at the first tagged frame
        self._ad_prefix = _pair_ad_prefix(site, robot_id)
        self._tag_prefix = _tag_ad_prefix(site, robot_id)
        self.set_peers(peers or {})

    def set_peers(self, peers: Mapping[str, VerifyKey]) -> None:
        """Pair-seal addressed messages to these robots, and tag broadcasts for them, from now on (the adopted
        roster's keys)."""
        self._peers = dict(peers)
        self._keys = {}
        self._tag_keys = None

    def _keys_for(self, robot: str) -> tuple[bytes, bytes]:
        keys = self._keys.get(robot)
        if keys is None:
            keys = self._keys[robot] = pair_keys(self.key, self._peers[robot])
        return keys

    def set_mesh_key(self, mesh_key: bytes | None) -> None:
        """Encrypt from now on with ``mesh_key`` (the adopted roster's); None = plaintext (roster without one)."""
        self._box = SecretBox(mesh_key) if mesh_key is not None else None

    def frame(self, message: Message) -> Frame:
        kind, body = encode_message(message)
        to = getattr(message, "to", None)
        if to is not None and to in self._peers and to != self.robot_id:
            key = self._keys_for(to)[0]
            self._counter += 1
            nonce = os.urandom(PAIR_NONCE_BYTES)
            ad = _pair_ad_from(self._ad_prefix, self._counter, kind)
            sealed = _aead_seal(body, ad, nonce, key)
            return Frame(self.site, self.robot_id, self._counter, kind, nonce + sealed, b"")
        if self._box is not None:
            body = bytes(self._box.encrypt(body))  # nonce | ciphertext | MAC
        self._counter += 1
        if kind in TAGGED_KINDS and self.tag_broadcasts:
            tagged = self._tagged(kind, body)
            if tagged is not None:
                return Frame(self.site, self.robot_id, self._counter, kind, tagged, b"")
        signature = self.key.sign(signed_bytes(self.site, self.robot_id, self._counter, kind, body)).signature
        return Frame(self.site, self.robot_id, self._counter, kind, body, signature)

    def _tagged(self, kind: int, body: bytes) -> bytes | None:
        """``count | tags | body`` for every peer, or None (sign instead) without peers or when it does not fit."""
        keys = self._tag_keys
        if keys is None:
            keys = self._tag_keys = [self._keys_for(robot)[1] for robot in sorted(self._peers)
                                     if robot != self.robot_id]
        if not keys or len(keys) > MAX_TAGS or 1 + TAG_BYTES * len(keys) + len(body) > MAX_BODY_BYTES:
            return None
        data = _pair_ad_from(self._tag_prefix, self._counter, kind) + body
        tags = b"".join([_blake2b(data, digest_size=TAG_BYTES, key=k).digest() for k in keys])
        return len(keys).to_bytes(1, "big") + tags + body


class RedundantAckFilter:
    """Which acknowledgements a leader may drop *without verifying them*: those arriving while its newest heartbeat
    round already has its majority (they renew nothing; dropping a message is always safe, like a loss) — but at
    least every ``verify_every``-th one per sender is verified anyway, because a member that moved to a newer term
    says so in its acknowledgement and the leader must hear that (DST seed 95: else that member never follows
    again). Most of a leader's CPU at rest is checking n - 1 acknowledgement signatures per round, of which a
    majority suffices."""

    def __init__(self, verify_every: int = 4) -> None:
        self.verify_every = verify_every
        self._skipped: dict[str, int] = {}
        self.dropped = 0

    def skip(self, sender: str, round_settled: bool) -> bool:
        """True: drop this acknowledgement from (claimed) ``sender`` unverified."""
        if not round_settled:
            return False
        skipped = self._skipped.get(sender, 0)
        if skipped >= self.verify_every - 1:
            self._skipped[sender] = 0
            return False
        self._skipped[sender] = skipped + 1
        self.dropped += 1
        return True


@dataclass
class _Window:
    highest: int = 0
    mask: int = 0  # bit i set = counter (highest - i) seen


class Verifier:
    """Checks frames from the mesh; ``accept`` returns the message or None, counting why in ``drops``."""

    def __init__(self, site: str, robot_id: str, roster: SiteRoster, own_key: SigningKey | None = None) -> None:
        """``own_key``: this robot's key, to open frames pair-sealed to it (without it they are refused)."""
        self.site, self.robot_id = site, robot_id
        self.roster = roster
        self._own_key = own_key
        # sender -> (pair key, pair AD prefix, tag key, tag AD prefix); roster members' only (an unknown sender is
        # dropped before)
        self._pairs: dict[str, tuple[bytes, bytes, bytes, bytes]] = {}
        self._buffers = _open_buffers(MAX_BODY_BYTES)
        self.revoked: set[str] = set()
        self.drops: Counter[str] = Counter()
        self.accepted = 0
        self._windows: dict[str, _Window] = {}
        self._boxes: list[SecretBox] = [SecretBox(roster.mesh_key)] if roster.mesh_key is not None else []

    @property
    def encrypted(self) -> bool:
        """Whether frames must be encrypted (the roster in use carries a mesh key for this robot)."""
        return bool(self._boxes)

    def set_roster(self, roster: SiteRoster) -> None:
        """Switch to a newer verified roster: robots no longer listed are revoked at once. Its mesh key is tried
        first; the previous one stays readable while members move over (a revoked robot's frames are already
        dropped by sender, and it never gets the new key)."""
        self.revoked |= set(self.roster.keys) - set(roster.keys)
        self.revoked -= set(roster.keys)
        self.roster = roster
        if roster.mesh_key is None:
            self._boxes = []
        else:
            self._boxes = [SecretBox(roster.mesh_key), *self._boxes][:MESH_KEYS_KEPT]
        for gone in [s for s in self._windows if s not in roster.keys]:
            del self._windows[gone]
        self._pairs = {}  # a robot's registered key may have changed with the roster

    def _drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def accept(self, frame: Frame, own_term: int) -> Message | None:
        """Verify one frame: cheap checks first, the signature before any state changes, decoding last."""
        if frame.site != self.site:
            self._drop("wrong_site")
            return None
        key = self.roster.keys.get(frame.sender)
        if key is None:
            self._drop("revoked_sender" if frame.sender in self.revoked else "unknown_sender")
            return None
        body, signature = bytes(frame.body), bytes(frame.signature)
        if len(signature) not in (0, SIGNATURE_BYTES) or not body or len(body) > MAX_BODY_BYTES:
            self._drop("bad_size")
            return None
        if frame.kind not in KINDS:
            self._drop("unknown_kind")
            return None
        if not signature:
            if frame.kind in ADDRESSED_KINDS:  # pair-sealed: only to us (else the MAC fails)
                plain = self._open_pair(frame, key, body)
                if plain is None:
                    self._drop("bad_signature")
                    return None
                if not self._fresh(frame.sender, frame.counter):
                    self._drop("replay")
                    return None
                return self._decoded(frame, plain, own_term)
            # tagged broadcast (round 20): our tag among the sender's, then as a signed frame
            tagged = self._untag(frame, key, body) if frame.kind in TAGGED_KINDS else None
            if tagged is None:
                self._drop("bad_signature")
                return None
            body = tagged
        else:
            try:
                key.verify(signed_bytes(frame.site, frame.sender, frame.counter, frame.kind, body), signature)
            except (BadSignatureError, ValueError):
                self._drop("bad_signature")
                return None
        if not self._fresh(frame.sender, frame.counter):
            self._drop("replay")
            return None
        if self._boxes:
            plain = self._decrypt(body)
            if plain is None:
                self._drop("undecryptable")
                return None
            body = plain
        return self._decoded(frame, body, own_term)

    def _decoded(self, frame: Frame, body: bytes, own_term: int) -> Message | None:
        """The message in an authentic, fresh, plaintext ``body``, or None (counted) if it is not a sane one."""
        try:
            message = decode_message(frame.kind, body)
        except DecodeError as exc:
            self._drop(exc.reason)
            return None
        if message.sender != frame.sender:
            self._drop("sender_mismatch")
            return None
        if not 0 <= message.term <= MAX_TERM or message.term > own_term + MAX_TERM_JUMP \
                or message.roster_version < 0:
            self._drop("absurd_term")
            return None
        self.accepted += 1
        return message

    def _pair(self, sender: str, sender_key: VerifyKey, own_key: SigningKey) -> tuple[bytes, bytes, bytes, bytes]:
        """The keys and AD prefixes this robot shares with ``sender`` (frame.site == self.site was checked first)."""
        entry = self._pairs.get(sender)
        if entry is None:
            seal, tag = pair_keys(own_key, sender_key)
            entry = self._pairs[sender] = (seal, _pair_ad_prefix(self.site, sender), tag,
                                           _tag_ad_prefix(self.site, sender))
        return entry

    def _open_pair(self, frame: Frame, sender_key: VerifyKey, body: bytes) -> bytes | None:
        """The plaintext of a frame pair-sealed by its sender to this robot, or None if it is not authentic."""
        if self._own_key is None or len(body) < PAIR_NONCE_BYTES + 16:
            return None
        entry = self._pair(frame.sender, sender_key, self._own_key)
        try:
            ad = _pair_ad_from(entry[1], frame.counter, frame.kind)
        except OverflowError:
            return None  # only the CDR codec's bounds stand between a frame and these fields
        return _aead_open(body[PAIR_NONCE_BYTES:], ad, body[:PAIR_NONCE_BYTES], entry[0], self._buffers)

    def _untag(self, frame: Frame, sender_key: VerifyKey, body: bytes) -> bytes | None:
        """The body of a tagged broadcast (without count and tags) if one of its tags is the sender's for this
        robot, else None. Every tag slot is compared in constant time (``compare_digest``); which slot is ours is
        not fixed (the sender's roster may differ from ours while a new version spreads)."""
        if self._own_key is None or not body:
            return None
        count = body[0]
        start = 1 + TAG_BYTES * count
        if count == 0 or len(body) <= start:
            return None
        entry = self._pair(frame.sender, sender_key, self._own_key)
        try:
            data = _pair_ad_from(entry[3], frame.counter, frame.kind)
        except OverflowError:
            return None
        rest = body[start:]
        expected = _blake2b(data + rest, digest_size=TAG_BYTES, key=entry[2]).digest()
        found = False
        for offset in range(1, start, TAG_BYTES):
            found |= compare_digest(expected, body[offset:offset + TAG_BYTES])
        return rest if found else None

    def _decrypt(self, body: bytes) -> bytes | None:
        """The plaintext under the current mesh key or the previous one; None if neither opens it (plaintext,
        another key, or altered: Poly1305 refuses it)."""
        for box in self._boxes:
            try:
                return box.decrypt(body)
            except (CryptoError, ValueError):
                continue
        return None

    def _fresh(self, sender: str, counter: int) -> bool:
        """Sliding replay window (as IPsec/WireGuard): newer than all, or unseen and within the last 128."""
        window = self._windows.setdefault(sender, _Window())
        if counter > window.highest:
            shift = counter - window.highest
            window.mask = ((window.mask << shift) | 1) & ((1 << REPLAY_WINDOW) - 1) if shift < REPLAY_WINDOW else 1
            window.highest = counter
            return True
        offset = window.highest - counter
        if offset >= REPLAY_WINDOW or window.mask >> offset & 1:
            return False
        window.mask |= 1 << offset
        return True
