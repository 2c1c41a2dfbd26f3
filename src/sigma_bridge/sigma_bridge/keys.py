"""The robot's Ed25519 identity key: a file holding the base64 32-byte seed (device protocol v1 format),
generated with mode 0600 on first start if missing. Never logged, never committed (it lives under var/)."""

from __future__ import annotations

import binascii
import os
import stat
from pathlib import Path

from nacl.signing import SigningKey

import sigma_protocol as protocol


def load_or_create_signing_key(path: str | Path) -> SigningKey:
    """Read the key at ``path``, creating it (0600, fsync'd) if the file does not exist.

    Refuses a key file that other users can read, as ssh does, rather than using a possibly leaked key.
    """
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(protocol.b64encode(bytes(key)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return key
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"robot key {p} has mode {oct(mode)}: other users may read it; run chmod 600 {p}")
    try:
        seed = protocol.b64decode(p.read_text().strip())
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"robot key {p} is not a base64 Ed25519 seed") from exc
    if len(seed) != 32:
        raise ValueError(f"robot key {p} holds {len(seed)} bytes; an Ed25519 seed has 32")
    return SigningKey(seed)


def public_key_b64(key: SigningKey) -> str:
    """The public key to register with the fleet API (``POST /v1/robots``)."""
    return protocol.b64encode(bytes(key.verify_key))
