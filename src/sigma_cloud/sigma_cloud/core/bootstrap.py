"""Resolve settings into running database endpoints: embedded server, owner/API roles, secrets, migrations."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import ensure_roles, migrate
from sigma_cloud.core.embedded import EmbeddedPostgres

OWNER = "sigma_owner"
BOOTSTRAP_LOCK = 7_281_000
DATABASE = "sigma"


@dataclass
class Runtime:
    """What the app needs once the database is reachable."""

    owner_url: str
    api_url: str
    jwt_secret: str
    embedded: EmbeddedPostgres | None = None
    started_embedded: bool = False  # this call started the embedded server (so the caller should stop it)


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for the embedded default, generated on first start into data_dir/secrets.json (mode 0600)."""
    path = data_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    values = {name: "dev-" + secrets.token_urlsafe(32) for name in ("jwt_secret", "api_db_password", "owner_password")}
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _with_user(url: str, user: str, password: str, dbname: str | None = None) -> str:
    params = conninfo_to_dict(url)
    params.update(user=user, password=password)
    if dbname:
        params["dbname"] = dbname
    return make_conninfo("", **params)


def _embedded_owner_url(server: EmbeddedPostgres, owner_password: str) -> str:
    """Create the sigma_owner role (CREATEROLE, not superuser: RLS applies as on a managed Postgres) and database."""
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK,))  # several workers may start at once
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(OWNER), sql.Literal(owner_password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), sql.Identifier(OWNER)))
    with psycopg.connect(server.url(database=DATABASE), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER)))
        # pgvector is not a trusted extension: created here as superuser for migration 0040 (docs/cognition.md)
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return server.url(user=OWNER, password=owner_password, database=DATABASE)


def prepare(settings: Settings, embedded: EmbeddedPostgres | None = None) -> Runtime:
    """Start (if embedded), create roles, apply migrations and create partitions. Idempotent."""
    from sigma_cloud.core.partitions import ensure_partitions

    generated = dev_secrets(settings.data_dir) if settings.environment != "production" else {}
    jwt_secret = settings.jwt_secret or generated["jwt_secret"]
    api_password = settings.api_db_password or generated.get("api_db_password")
    if settings.database_url is None:
        embedded = embedded or EmbeddedPostgres(settings.data_dir / "pg")
        started = not embedded.running()
        if started:
            embedded.start()
        owner_url = _embedded_owner_url(embedded, generated["owner_password"])
    else:
        owner_url = settings.database_url
        started = False
    if settings.api_database_url:
        api_url = settings.api_database_url
    else:
        if api_password is None:
            raise ValueError("SIGMA_API_DB_PASSWORD (or SIGMA_API_DATABASE_URL) is required")
        api_url = _with_user(owner_url, settings.api_db_user, api_password)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK,))  # several workers may start at once
        try:
            if not settings.api_database_url:
                ensure_roles(conn, settings.api_db_user, api_password or "")
            applied = migrate(conn)
            if applied:
                logging.getLogger("sigma_cloud.migrate").info("migrations applied: %s", ", ".join(applied))
            ensure_partitions(conn, settings)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BOOTSTRAP_LOCK,))
    return Runtime(owner_url=owner_url, api_url=api_url, jwt_secret=jwt_secret, embedded=embedded,
                   started_embedded=started)
