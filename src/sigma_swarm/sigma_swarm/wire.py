"""Typed IDL messages of the mesh (Cyclone DDS CDR) and their mapping to the core's dataclasses.

Every DDS sample is one ``Frame``: site, sender, per-sender counter, message kind, the message's own CDR encoding
(one typed IDL struct per kind below) and the sender's Ed25519 signature over all of that. Keeping the body as
bytes inside the signed frame lets a receiver check sizes, kind and signature before it decodes anything, and count
malformed CDR, wrong sizes and unknown kinds instead of losing them inside the DDS stack.
"""

# No "from __future__ import annotations": cyclonedds resolves these IDL annotations at run time.

import contextlib
from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import bounded_str, byte, int64, sequence, uint8, uint64

from sigma_swarm import cdr
from sigma_swarm.core import messages as m

MAX_BODY_BYTES = 1024
PAYLOAD_BYTES = cdr.MAX_PAYLOAD  # 768: a leader command's or report's payload
SIGNATURE_BYTES = 64
MAX_ID_CHARS = 63
FRAME_TOPIC = "sigma_swarm_frames"
SIGNING_DOMAIN = b"sigma-swarm-v1\x00"


@dataclass
class Frame(IdlStruct, typename="sigma_swarm::Frame"):
    """The signed envelope every mesh sample travels in."""

    site: bounded_str[MAX_ID_CHARS]
    sender: bounded_str[MAX_ID_CHARS]
    counter: uint64
    kind: uint8
    body: sequence[byte, MAX_BODY_BYTES]
    signature: sequence[byte, SIGNATURE_BYTES]

    # Every frame is (de)serialized on a member's hot path: the canonical form (XCDR1, little endian) goes through
    # the direct codec, the same bytes as cyclonedds' own (test_cdr.py); anything else falls back to cyclonedds.
    def serialize(self, buffer=None, endianness=None, use_version_2=None) -> bytes:
        if buffer is None and endianness is None and not use_version_2:
            return _FRAME_CODEC.encode((self.site, self.sender, self.counter, self.kind, bytes(self.body),
                                        bytes(self.signature)))
        return super().serialize(buffer=buffer, endianness=endianness, use_version_2=use_version_2)

    @classmethod
    def deserialize(cls, data, has_header=True, use_version_2=None) -> "Frame":
        if has_header and use_version_2 is None:
            try:
                return cls(*_FRAME_CODEC.decode(data, True))
            except cdr.CdrError:
                pass  # not the canonical form: cyclonedds decides (and raises on garbage, as before)
        return super().deserialize(data, has_header=has_header, use_version_2=use_version_2)


_FRAME_CODEC = cdr.codec("ssQByy", (MAX_BODY_BYTES, SIGNATURE_BYTES))  # site, sender, counter, kind, body, signature


def signed_bytes(site: str, sender: str, counter: int, kind: int, body: bytes) -> bytes:
    """The exact bytes a frame's signature covers (domain-separated, length-delimited)."""
    site_b, sender_b = site.encode(), sender.encode()
    return b"".join((SIGNING_DOMAIN, len(site_b).to_bytes(1, "big"), site_b, len(sender_b).to_bytes(1, "big"),
                     sender_b, counter.to_bytes(8, "big"), kind.to_bytes(1, "big"), body))


@dataclass
class MemberHeartbeatIdl(IdlStruct, typename="sigma_swarm::MemberHeartbeat"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    leader: bounded_str[MAX_ID_CHARS]
    settled: bool


@dataclass
class PreVoteRequestIdl(IdlStruct, typename="sigma_swarm::PreVoteRequest"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64


@dataclass
class PreVoteResponseIdl(IdlStruct, typename="sigma_swarm::PreVoteResponse"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    to: bounded_str[MAX_ID_CHARS]
    granted: bool


@dataclass
class VoteRequestIdl(IdlStruct, typename="sigma_swarm::VoteRequest"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64


@dataclass
class VoteResponseIdl(IdlStruct, typename="sigma_swarm::VoteResponse"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    to: bounded_str[MAX_ID_CHARS]
    granted: bool


@dataclass
class LeaderHeartbeatIdl(IdlStruct, typename="sigma_swarm::LeaderHeartbeat"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    seq: int64
    ack_mask: int64  # round 18; a body without it (rounds <= 17) is read as 0, every follower acknowledges


@dataclass
class HeartbeatAckIdl(IdlStruct, typename="sigma_swarm::HeartbeatAck"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    to: bounded_str[MAX_ID_CHARS]
    seq: int64


@dataclass
class LeaderCommandIdl(IdlStruct, typename="sigma_swarm::LeaderCommand"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    seq: int64
    kind: bounded_str[MAX_ID_CHARS]
    payload: sequence[byte, PAYLOAD_BYTES]


@dataclass
class MemberReportIdl(IdlStruct, typename="sigma_swarm::MemberReport"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    to: bounded_str[MAX_ID_CHARS]
    seq: int64
    kind: bounded_str[MAX_ID_CHARS]
    payload: sequence[byte, PAYLOAD_BYTES]


@dataclass
class MemberBroadcastIdl(IdlStruct, typename="sigma_swarm::MemberBroadcast"):
    sender: bounded_str[MAX_ID_CHARS]
    term: int64
    roster_version: int64
    seq: int64
    kind: bounded_str[MAX_ID_CHARS]
    payload: sequence[byte, PAYLOAD_BYTES]


# kind id -> (core dataclass, IDL struct). Ids are part of the wire format: never renumber.
KINDS: dict[int, tuple[type, type]] = {
    1: (m.MemberHeartbeat, MemberHeartbeatIdl),
    2: (m.PreVoteRequest, PreVoteRequestIdl),
    3: (m.PreVoteResponse, PreVoteResponseIdl),
    4: (m.VoteRequest, VoteRequestIdl),
    5: (m.VoteResponse, VoteResponseIdl),
    6: (m.LeaderHeartbeat, LeaderHeartbeatIdl),
    7: (m.HeartbeatAck, HeartbeatAckIdl),
    8: (m.LeaderCommand, LeaderCommandIdl),
    9: (m.MemberReport, MemberReportIdl),
    10: (m.MemberBroadcast, MemberBroadcastIdl),
}
KIND_OF: dict[type, int] = {core: kind for kind, (core, _) in KINDS.items()}


class DecodeError(ValueError):
    """A body that is not the CDR of its kind's IDL struct; ``reason`` is the counted drop reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _layout(idl_type: type) -> str:
    """The ``sigma_swarm.cdr`` layout (one letter per field) of an IDL struct, read from its annotations."""
    codes = {bounded_str[MAX_ID_CHARS]: "s", int64: "q", bool: "?", sequence[byte, PAYLOAD_BYTES]: "y"}
    return "".join(codes[annotation] for annotation in idl_type.__annotations__.values())


# kind id -> (core dataclass, its field names, compiled cdr codec), for the direct codec
_CODEC: dict[int, tuple[type, tuple[str, ...], cdr.Codec]] = {
    kind: (core, tuple(idl.__annotations__), cdr.codec(_layout(idl))) for kind, (core, idl) in KINDS.items()}
# kinds whose core dataclass lists its fields in the IDL's order: built from the decoded values by position
_POSITIONAL = frozenset(kind for kind, (core, names, _) in _CODEC.items() if tuple(core.__dataclass_fields__) == names)


def encode_message(message: m.Message) -> tuple[int, bytes]:
    """(kind id, CDR body) of a core message: the bytes cyclonedds would write for its IDL struct (see cdr.py)."""
    kind = KIND_OF[type(message)]
    _, names, codec = _CODEC[kind]
    try:
        return kind, codec.encode(tuple(getattr(message, name) for name in names))
    except (cdr.CdrError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot encode {type(message).__name__}: {exc}") from exc


# kind id -> (field names, cdr layout) of an older body of that kind still read: today's without its last field
# (missing: the default). LeaderHeartbeat before round 18 had no ack_mask: a round-18 follower under an older leader
# acknowledges every round, as before. (An older member cannot read a round-18 heartbeat: docs/swarm.md "Upgrading
# a site".)
_LEGACY: dict[int, tuple[tuple[str, ...], cdr.Codec]] = {
    kind: (_CODEC[kind][1][:-1], cdr.codec(_CODEC[kind][2].layout[:-1])) for kind in (KIND_OF[m.LeaderHeartbeat],)}


def decode_message(kind: int, body: bytes) -> m.Message:
    """The core message in ``body``; DecodeError('unknown_kind' | 'malformed_cdr') otherwise."""
    entry = _CODEC.get(kind)
    if entry is None:
        raise DecodeError("unknown_kind", f"unknown message kind {kind}")
    core_type, names, codec = entry
    try:
        values = codec.decode(body)
    except cdr.CdrError as exc:
        values = None
        if (legacy := _LEGACY.get(kind)) is not None:
            names, old_codec = legacy
            with contextlib.suppress(cdr.CdrError):
                values = old_codec.decode(body)
        if values is None:
            raise DecodeError("malformed_cdr", f"kind {kind}: body is not valid CDR ({exc})") from exc
    if kind in _POSITIONAL:
        return core_type(*values)  # a legacy body lacks only trailing fields: their defaults
    return core_type(**dict(zip(names, values, strict=True)))
