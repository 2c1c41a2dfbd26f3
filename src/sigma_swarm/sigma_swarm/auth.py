"""Message authenticity on the mesh: Ed25519 signing of frames, verification against the signed site roster,
a replay window per sender, and a counted reason for every frame dropped.

Pure (no I/O, no clock). Key material comes from ``sigma_protocol`` (the same base64 Ed25519 seeds and public keys
the cloud registered for the device protocol); signatures are PyNaCl's Ed25519.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
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
                "replay", "malformed_cdr", "sender_mismatch", "absurd_term")


class Signer:
    """Signs this robot's frames. ``boot`` (persisted, +1 per start) keeps counters rising across restarts."""

    def __init__(self, site: str, robot_id: str, key: SigningKey, boot: int) -> None:
        self.site, self.robot_id, self.key = site, robot_id, key
        self._counter = (boot & 0xFFFFFFFF) << 32

    def frame(self, message: Message) -> Frame:
        kind, body = encode_message(message)
        self._counter += 1
        signature = self.key.sign(signed_bytes(self.site, self.robot_id, self._counter, kind, body)).signature
        return Frame(self.site, self.robot_id, self._counter, kind, body, signature)


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

    def set_roster(self, roster: SiteRoster) -> None:
        """Switch to a newer verified roster: robots no longer listed are revoked at once."""
        self.revoked |= set(self.roster.keys) - set(roster.keys)
        self.revoked -= set(roster.keys)
        self.roster = roster
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
