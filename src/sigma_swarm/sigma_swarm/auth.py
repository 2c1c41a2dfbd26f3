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

from collections import Counter
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from sigma_swarm.core import Message
from sigma_swarm.roster import SiteRoster
from sigma_swarm.wire import (
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


class Signer:
    """Signs (and, with a mesh key, first encrypts) this robot's frames. ``boot`` (persisted, +1 per start) keeps
    counters rising across restarts."""

    def __init__(self, site: str, robot_id: str, key: SigningKey, boot: int, mesh_key: bytes | None = None) -> None:
        self.site, self.robot_id, self.key = site, robot_id, key
        self._counter = (boot & 0xFFFFFFFF) << 32
        self._box: SecretBox | None = None
        self.set_mesh_key(mesh_key)

    def set_mesh_key(self, mesh_key: bytes | None) -> None:
        """Encrypt from now on with ``mesh_key`` (the adopted roster's); None = plaintext (roster without one)."""
        self._box = SecretBox(mesh_key) if mesh_key is not None else None

    def frame(self, message: Message) -> Frame:
        kind, body = encode_message(message)
        if self._box is not None:
            body = bytes(self._box.encrypt(body))  # nonce | ciphertext | MAC
        self._counter += 1
        signature = self.key.sign(signed_bytes(self.site, self.robot_id, self._counter, kind, body)).signature
        return Frame(self.site, self.robot_id, self._counter, kind, body, signature)


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

    def __init__(self, site: str, robot_id: str, roster: SiteRoster) -> None:
        self.site, self.robot_id = site, robot_id
        self.roster = roster
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
        if len(signature) != SIGNATURE_BYTES or not body or len(body) > MAX_BODY_BYTES:
            self._drop("bad_size")
            return None
        if frame.kind not in KINDS:
            self._drop("unknown_kind")
            return None
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
