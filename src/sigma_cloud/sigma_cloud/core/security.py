"""OAuth2 bearer JWTs for people (role + sites); devices authenticate by Ed25519 signature (sigma_protocol)."""

from __future__ import annotations

import re
from typing import Any

import jwt

from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import Principal

HUMAN_ROLES = ("fleet_admin", "site_manager", "operator")
SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class AuthError(Exception):
    """Token missing, invalid, expired, or carrying claims we do not accept."""


def mint_token(settings: Settings, key: str, *, subject: str, role: str, sites: list[str], now: float,
               ttl_s: int | None = None) -> str:
    """Sign a bearer token (for the embedded default; production tokens come from the configured issuer)."""
    if role not in HUMAN_ROLES:
        raise ValueError(f"role must be one of {HUMAN_ROLES}, got {role!r}")
    bad = [s for s in sites if not SITE_RE.match(s)]
    if bad:
        raise ValueError(f"invalid site ids: {bad}")
    claims: dict[str, Any] = {"sub": subject, "role": role, "sites": sites, "iss": settings.jwt_issuer,
                              "aud": settings.jwt_audience, "iat": int(now),
                              "exp": int(now + (ttl_s or settings.jwt_ttl_s))}
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)


def principal_from_token(settings: Settings, key: str, token: str) -> Principal:
    """Verify signature, issuer, audience and expiry; map the claims to a Principal."""
    try:
        claims = jwt.decode(token, key, algorithms=[settings.jwt_algorithm], audience=settings.jwt_audience,
                            issuer=settings.jwt_issuer, options={"require": ["exp", "sub", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid bearer token: {exc}") from exc
    role = claims.get("role")
    sites = claims.get("sites", [])
    if role not in HUMAN_ROLES:
        raise AuthError(f"token role {role!r} is not one of {HUMAN_ROLES}")
    if not isinstance(sites, list) or not all(isinstance(s, str) and SITE_RE.match(s) for s in sites):
        raise AuthError("token claim 'sites' must be a list of site ids")
    return Principal(subject=str(claims["sub"]), role=role, sites=tuple(sites))
