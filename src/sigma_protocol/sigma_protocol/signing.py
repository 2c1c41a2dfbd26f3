"""Ed25519 device keys, the exact string a device signs, request signing and server-side verification.

Nothing here does I/O or reads a clock: time is always passed in. Nonce uniqueness (replay within the freshness
window) is the server's job against its nonce store.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from sigma_protocol.constants import (
    HEADER_NONCE,
    HEADER_ROBOT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S,
    NONCE_RE,
    PROTOCOL_VERSION,
    ROBOT_ID_RE,
)
from sigma_protocol.models import ProtocolError


def b64encode(raw: bytes) -> str:
    """Standard base64 text of `raw`."""
    return base64.b64encode(raw).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict base64 decoding (raises ValueError on anything but the standard alphabet)."""
    return base64.b64decode(text.encode("ascii"), validate=True)


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private seed, public key), both base64 (32 bytes each)."""
    key = SigningKey.generate()
    return b64encode(bytes(key)), b64encode(bytes(key.verify_key))


def public_key_of(private_seed_b64: str) -> str:
    """The base64 public key belonging to a base64 private seed."""
    return b64encode(bytes(SigningKey(b64decode(private_seed_b64)).verify_key))


def load_verify_key(public_key_b64: str) -> VerifyKey:
    """Parse a base64 Ed25519 public key, raising ValueError with a clear message when it is not one."""
    try:
        raw = b64decode(public_key_b64)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("public_key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"public_key must decode to 32 bytes (Ed25519), got {len(raw)}")
    return VerifyKey(raw)


def new_nonce() -> str:
    """16 random bytes as 32 lowercase hex digits."""
    return os.urandom(16).hex()


def signing_string(method: str, path: str, robot_id: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes a device signs: version, method, path (with query), robot, timestamp, nonce, sha256(body)."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((PROTOCOL_VERSION, method.upper(), path, robot_id, timestamp, nonce, digest)).encode()


def sign_request(private_seed_b64: str | SigningKey, method: str, path: str, robot_id: str, body: bytes,
                 now: float, nonce: str | None = None) -> dict[str, str]:
    """Headers that authenticate one request. Every attempt (including a retry) gets a fresh nonce."""
    key = private_seed_b64 if isinstance(private_seed_b64, SigningKey) else SigningKey(b64decode(private_seed_b64))
    timestamp = str(int(now))
    nonce = nonce or new_nonce()
    signature = key.sign(signing_string(method, path, robot_id, timestamp, nonce, body)).signature
    return {HEADER_ROBOT: robot_id, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce,
            HEADER_SIGNATURE: b64encode(signature)}


TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class DeviceAuth:
    """Parsed device authentication headers."""

    robot_id: str
    timestamp: int
    nonce: str
    signature: bytes


def parse_auth_headers(headers: Mapping[str, str]) -> DeviceAuth:
    """Read the four X-Sigma-* headers (case-insensitively) or raise ProtocolError 401."""
    lower = {k.lower(): v for k, v in headers.items()}
    values = {}
    for name in (HEADER_ROBOT, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE):
        value = lower.get(name.lower())
        if not value:
            raise ProtocolError(401, "unauthenticated", f"missing header {name}")
        values[name] = value
    robot_id = values[HEADER_ROBOT]
    if not ROBOT_ID_RE.fullmatch(robot_id):
        raise ProtocolError(401, "unauthenticated", f"{HEADER_ROBOT} is not a valid robot id")
    if not TIMESTAMP_RE.fullmatch(values[HEADER_TIMESTAMP]):  # ASCII digits only ("²".isdigit() is True)
        raise ProtocolError(401, "unauthenticated", f"{HEADER_TIMESTAMP} must be integer UNIX seconds "
                            "(at most 12 ASCII digits)")
    if not NONCE_RE.fullmatch(values[HEADER_NONCE]):
        raise ProtocolError(401, "unauthenticated", f"{HEADER_NONCE} must be 32 lowercase hex digits")
    if len(values[HEADER_SIGNATURE]) > 128:
        raise ProtocolError(401, "unauthenticated", f"{HEADER_SIGNATURE} is too long for an Ed25519 signature")
    try:
        signature = b64decode(values[HEADER_SIGNATURE])
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtocolError(401, "unauthenticated", f"{HEADER_SIGNATURE} is not base64") from exc
    if len(signature) != SIGNATURE_BYTES:
        raise ProtocolError(401, "unauthenticated", f"{HEADER_SIGNATURE} must decode to {SIGNATURE_BYTES} bytes "
                            f"(Ed25519), got {len(signature)}")
    return DeviceAuth(robot_id, int(values[HEADER_TIMESTAMP]), values[HEADER_NONCE], signature)


def verify_request(verify_key: VerifyKey, auth: DeviceAuth, method: str, path: str, body: bytes, now: float,
                   max_skew_s: float = MAX_CLOCK_SKEW_S) -> None:
    """Check freshness and the Ed25519 signature; raise ProtocolError 401 when either fails.

    Nonce uniqueness (replay within the window) is checked by the server against its nonce store.
    """
    if abs(now - auth.timestamp) > max_skew_s:
        raise ProtocolError(401, "stale-request",
                            f"timestamp {auth.timestamp} is more than {max_skew_s:.0f} s from server time {now:.0f}; "
                            "re-sign the request with the current time")
    message = signing_string(method, path, auth.robot_id, str(auth.timestamp), auth.nonce, body)
    try:
        verify_key.verify(message, auth.signature)
    except BadSignatureError as exc:
        raise ProtocolError(401, "bad-signature", "signature does not verify with the robot's registered key") from exc
