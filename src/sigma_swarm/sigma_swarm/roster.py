"""The site roster signed by the cloud: which robots (ids and Ed25519 public keys) belong to a site's mesh.

Document (what ``GET /v1/sites/{site}/roster`` returns)::

    {"roster": "<base64 of the roster JSON bytes>", "signature": "<base64 Ed25519 signature over those bytes>"}

The roster JSON is ``{"site": str, "version": int, "issued_at": float, "robots": [{"robot_id", "public_key"}]}``.
The signature covers the exact bytes carried, so no canonical JSON is needed on either side. A robot accepts a roster
only if the cloud's roster key verifies it, it names the robot's own site, and its version is not older than the
one it has (no rollback to a roster that still lists a revoked robot).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from sigma_protocol import ROBOT_ID_RE, b64decode, b64encode, load_verify_key

MAX_ROSTER_ROBOTS = 10_000


class RosterError(ValueError):
    """A roster document that must not be used; the message says why."""


@dataclass(frozen=True)
class SiteRoster:
    """A verified roster: site, version, robot id -> verify key."""

    site: str
    version: int
    issued_at: float
    keys: dict[str, VerifyKey]

    @property
    def members(self) -> frozenset[str]:
        return frozenset(self.keys)


def sign_roster(signing_key: SigningKey, site: str, version: int, robots: Iterable[tuple[str, str]],
                issued_at: float) -> dict[str, str]:
    """The signed roster document for ``robots`` = (robot_id, base64 public key) pairs."""
    body = orjson.dumps({"site": site, "version": int(version), "issued_at": float(issued_at),
                         "robots": [{"robot_id": r, "public_key": k} for r, k in sorted(robots)]})
    return {"roster": b64encode(body), "signature": b64encode(signing_key.sign(body).signature)}


def verify_roster(document: object, cloud_key: VerifyKey, site: str, min_version: int = 0) -> SiteRoster:
    """Check a roster document against the cloud's roster key; RosterError names what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("roster"), str) \
            or not isinstance(document.get("signature"), str):
        raise RosterError("roster document must be an object with string fields 'roster' and 'signature'")
    try:
        body = b64decode(document["roster"])
        signature = b64decode(document["signature"])
    except (ValueError, UnicodeEncodeError) as exc:
        raise RosterError("roster or signature is not valid base64") from exc
    try:
        cloud_key.verify(body, signature)
    except (BadSignatureError, ValueError) as exc:
        raise RosterError("roster signature does not verify with the cloud's roster key") from exc
    try:
        data = orjson.loads(body)
        roster_site, version, issued_at = data["site"], data["version"], float(data["issued_at"])
        robots = data["robots"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RosterError("signed roster is not the expected JSON shape") from exc
    if roster_site != site:
        raise RosterError(f"roster is for site {roster_site!r}, this robot is in site {site!r}")
    if not isinstance(version, int) or version < min_version:
        raise RosterError(f"roster version {version!r} is older than the version {min_version} already in use")
    if not isinstance(robots, list) or len(robots) > MAX_ROSTER_ROBOTS:
        raise RosterError("roster robots must be a list of at most 10,000 entries")
    keys: dict[str, VerifyKey] = {}
    for i, entry in enumerate(robots):
        robot_id = entry.get("robot_id") if isinstance(entry, dict) else None
        if not isinstance(robot_id, str) or not ROBOT_ID_RE.match(robot_id):
            raise RosterError(f"roster robots[{i}]: invalid robot_id")
        try:
            keys[robot_id] = load_verify_key(str(entry.get("public_key")))
        except ValueError as exc:
            raise RosterError(f"roster robots[{i}] ({robot_id}): {exc}") from exc
    return SiteRoster(site, version, issued_at, keys)
