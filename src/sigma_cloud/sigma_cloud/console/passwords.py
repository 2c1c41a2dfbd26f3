"""Password hashing for console users: scrypt from the standard library, self-describing, constant-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: N=2^14, r=8, p=1 (the Python docs' interactive-login figure; ~16 MiB, tens of ms per check).
N, R, P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 1024
MIN_PASSWORD_CHARS = 10


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$key` for a password of MIN..MAX characters."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"password must have {MIN_PASSWORD_CHARS}..{MAX_PASSWORD_CHARS} characters")
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for any malformed hash or over-long password."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
DUMMY_HASH = hash_password("not-a-real-password", salt=b"\0" * 16)
