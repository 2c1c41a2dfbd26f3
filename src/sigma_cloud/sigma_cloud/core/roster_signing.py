"""The key the cloud signs site rosters with, and the signed roster document (format: docs/swarm.md).

Robots verify the document with this key's public half (provisioned as ``cloud_roster_key``), so the mesh trusts a
membership list only if the cloud issued it. The signature covers the exact JSON bytes carried, so neither side needs
canonical JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nacl.signing import SigningKey

import sigma_protocol as protocol
from sigma_cloud.core.config import Settings


def roster_key(settings: Settings) -> SigningKey:
    """SIGMA_ROSTER_SIGNING_KEY (base64 seed), else a key file in data_dir created 0600 on first use."""
    if settings.roster_signing_key:
        return SigningKey(protocol.b64decode(settings.roster_signing_key))
    path = Path(settings.data_dir) / "roster-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(protocol.b64encode(bytes(SigningKey.generate())))
    return SigningKey(protocol.b64decode(path.read_text().strip()))


def signed_roster(key: SigningKey, site: str, version: int, robots: Iterable[tuple[str, str]],
                  issued_at: float) -> dict[str, str]:
    """``{"roster": base64(JSON), "signature": base64(Ed25519)}`` for (robot_id, public_key) pairs, each robot's
    entry carrying the site's mesh payload key of this version sealed to it (format: ``sigma_protocol.roster``)."""
    return protocol.sign_roster(key, site, version, robots, issued_at,
                                mesh_key=protocol.derive_mesh_key(key, site, version))
