"""Console users (migration 0050): added and listed with the owner's connection by `sigma-cloud user ...`."""

from __future__ import annotations

import re

import psycopg

from sigma_cloud.console.passwords import hash_password
from sigma_cloud.core.security import HUMAN_ROLES, SITE_RE

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def add_user(conn: psycopg.Connection, *, username: str, password: str, role: str, sites: list[str]) -> None:
    """Create or replace a console user (scrypt-hashed password); ValueError names the bad argument."""
    if not USERNAME_RE.match(username):
        raise ValueError(f"user name {username!r} must match {USERNAME_RE.pattern}")
    if role not in HUMAN_ROLES:
        raise ValueError(f"role must be one of {', '.join(HUMAN_ROLES)}")
    bad = [s for s in sites if not SITE_RE.match(s)]
    if bad:
        raise ValueError(f"invalid site ids: {bad}")
    if role != "fleet_admin" and not sites:
        raise ValueError(f"role {role} needs --sites (the sites they may see)")
    conn.execute("INSERT INTO console_users (username, password_hash, role, sites) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
                 "role = EXCLUDED.role, sites = EXCLUDED.sites",
                 (username, hash_password(password), role, sites))


def remove_user(conn: psycopg.Connection, username: str) -> bool:
    """Delete a console user; False when there was none."""
    return conn.execute("DELETE FROM console_users WHERE username = %s", (username,)).rowcount > 0


def list_users(conn: psycopg.Connection) -> list[dict[str, object]]:
    """Every console user without the hash."""
    rows = conn.execute("SELECT username, role, sites, created_at FROM console_users ORDER BY username").fetchall()
    return [{"username": u, "role": r, "sites": list(s), "created_at": c.isoformat()} for u, r, s, c in rows]
