"""The cloud-signed site roster. Its format, signing and verification live in ``sigma_protocol.roster`` (one place,
shared with the cloud); this module re-exports them for the swarm's own modules and older imports."""

from sigma_protocol.roster import (
    MAX_ROSTER_ROBOTS,
    RosterError,
    SiteRoster,
    derive_mesh_key,
    sign_roster,
    verify_roster,
)

__all__ = ["MAX_ROSTER_ROBOTS", "RosterError", "SiteRoster", "derive_mesh_key", "sign_roster", "verify_roster"]
