"""The cloud-signed site roster of the swarm mesh (docs/swarm.md): its format, signing (the cloud) and verification
(each robot's swarm member), in one place so the two sides cannot drift apart.

Document (what ``GET /v1/sites/{site}/roster`` returns)::

    {"roster": "<base64 of the roster JSON bytes>", "signature": "<base64 Ed25519 signature over those bytes>"}

The roster JSON is ``{"site": str, "version": int, "issued_at": float, "robots": [{"robot_id", "public_key",
"mesh_key"?}]}``. The signature covers the exact bytes carried, so no canonical JSON is needed on either side.

``mesh_key`` (optional per robot): the site's payload key for this roster version, sealed to that robot alone
(libsodium sealed box to the X25519 form of the robot's registered Ed25519 key). Only a listed robot can open its
entry, the key changes with every roster version (every membership change), so a robot taken out of the roster
cannot read the mesh's traffic after the next version. The cloud derives the key from its roster key
(``derive_mesh_key``): every fetch of one version carries the same key without the cloud storing it.

A robot accepts a roster only if the cloud's roster key verifies it, it names the robot's own site, and its version
is not older than the one it has (no rollback to a roster that still lists a revoked robot). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from nacl.encoding import RawEncoder
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.hash import blake2b
from nacl.public import SealedBox
from nacl.signing import SigningKey, VerifyKey

from sigma_protocol.constants import ROBOT_ID_RE
from sigma_protocol.signing import b64decode, b64encode, load_verify_key

MAX_ROSTER_ROBOTS = 10_000
MESH_KEY_BYTES = 32  # a PyNaCl SecretBox key (XSalsa20-Poly1305)
_MESH_KEY_PERSON = b"sigma-mesh-key-1"  # BLAKE2b personalization (16 bytes): domain separation of the derivation


class RosterError(ValueError):
    """A roster document that must not be used; the message says why."""


@dataclass(frozen=True)
class SiteRoster:
    """A verified roster: site, version, robot id -> verify key, and the mesh key if this robot could open it."""

    site: str
    version: int
    issued_at: float
    keys: dict[str, VerifyKey]
    mesh_key: bytes | None = None

    @property
    def members(self) -> frozenset[str]:
        return frozenset(self.keys)


def derive_mesh_key(roster_key: SigningKey, site: str, version: int) -> bytes:
    """The site's payload key for one roster version: keyed BLAKE2b (a PRF) of (site, version) under the roster key's
    seed, personalised so it is never the same as any other use of that seed."""
    message = site.encode() + b"\x00" + str(int(version)).encode()
    return blake2b(message, digest_size=MESH_KEY_BYTES, key=bytes(roster_key), person=_MESH_KEY_PERSON,
                   encoder=RawEncoder)


def seal_mesh_key(mesh_key: bytes, public_key_b64: str) -> str:
    """``mesh_key`` sealed to one robot (base64): only the holder of that Ed25519 key's private half can open it."""
    recipient = load_verify_key(public_key_b64).to_curve25519_public_key()
    return b64encode(SealedBox(recipient).encrypt(mesh_key))


def open_mesh_key(sealed_b64: str, own_key: SigningKey) -> bytes:
    """Open a sealed mesh key with this robot's Ed25519 key; ValueError when it is not sealed to it."""
    try:
        key = SealedBox(own_key.to_curve25519_private_key()).decrypt(b64decode(sealed_b64))
    except (CryptoError, ValueError, UnicodeEncodeError) as exc:
        raise ValueError("mesh_key does not open with this robot's key") from exc
    if len(key) != MESH_KEY_BYTES:
        raise ValueError(f"mesh_key holds {len(key)} bytes, expected {MESH_KEY_BYTES}")
    return key


def sign_roster(signing_key: SigningKey, site: str, version: int, robots: Iterable[tuple[str, str]],
                issued_at: float, mesh_key: bytes | None = None) -> dict[str, str]:
    """The signed roster document for ``robots`` = (robot_id, base64 public key) pairs; with ``mesh_key`` each
    robot's entry carries that key sealed to it."""
    entries = []
    for robot_id, public_key in sorted(robots):
        entry = {"robot_id": robot_id, "public_key": public_key}
        if mesh_key is not None:
            entry["mesh_key"] = seal_mesh_key(mesh_key, public_key)
        entries.append(entry)
    body = orjson.dumps({"site": site, "version": int(version), "issued_at": float(issued_at), "robots": entries})
    return {"roster": b64encode(body), "signature": b64encode(signing_key.sign(body).signature)}


def verify_roster(document: object, cloud_key: VerifyKey, site: str, min_version: int = 0,
                  own_id: str = "", own_key: SigningKey | None = None) -> SiteRoster:
    """Check a roster document against the cloud's roster key; RosterError names what is wrong.

    With ``own_id`` and ``own_key`` the mesh key sealed to this robot is opened (``SiteRoster.mesh_key``; None when
    the roster carries none for it)."""
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
    mesh_key: bytes | None = None
    for i, entry in enumerate(robots):
        robot_id = entry.get("robot_id") if isinstance(entry, dict) else None
        if not isinstance(robot_id, str) or not ROBOT_ID_RE.match(robot_id):
            raise RosterError(f"roster robots[{i}]: invalid robot_id")
        try:
            keys[robot_id] = load_verify_key(str(entry.get("public_key")))
        except ValueError as exc:
            raise RosterError(f"roster robots[{i}] ({robot_id}): {exc}") from exc
        sealed = entry.get("mesh_key")
        if robot_id == own_id and own_key is not None and sealed is not None:
            if bytes(own_key.verify_key) != bytes(keys[robot_id]):
                raise RosterError(f"roster lists {robot_id} with another public key than this robot's key")
            try:
                mesh_key = open_mesh_key(str(sealed), own_key)
            except ValueError as exc:
                raise RosterError(f"roster robots[{i}] ({robot_id}): {exc}") from exc
    return SiteRoster(site, version, issued_at, keys, mesh_key)
