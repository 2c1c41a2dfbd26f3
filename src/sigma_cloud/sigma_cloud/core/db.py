"""PostgreSQL access: role bootstrap, versioned migrations, the async pool, and per-transaction identity."""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sigma_cloud.core.payloads import install

# sigma_ingest: COPYs a verified device batch into telemetry day partitions (migration 0071, core/ingest_copy.py)
# sigma_log_writer: writes the cloud's own log records through service_logs_write() (migration 0063, docs/logs.md)
GROUP_ROLES = ("sigma_fleet_admin", "sigma_site_manager", "sigma_operator", "sigma_device", "sigma_ingest",
               "sigma_log_writer")
ROLE_OF = {"fleet_admin": "sigma_fleet_admin", "site_manager": "sigma_site_manager", "operator": "sigma_operator",
           "device": "sigma_device"}
MIGRATION_LOCK = 7_281_001


@dataclass(frozen=True)
class Principal:
    """Who is acting: a human role with its sites, or a device (robot)."""

    subject: str
    role: str
    sites: tuple[str, ...] = ()
    robot_id: str | None = None

    def can_see_site(self, site_id: str) -> bool:
        return self.role == "fleet_admin" or site_id in self.sites


def ensure_roles(conn: psycopg.Connection, api_user: str, api_password: str) -> None:
    """Create the NOLOGIN group roles and the API's NOINHERIT login role (idempotent). Needs CREATEROLE."""
    with conn.cursor() as cur:
        for role in GROUP_ROLES:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (api_user,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(sql.SQL(verb + " ROLE {} LOGIN NOINHERIT PASSWORD {}").format(
            sql.Identifier(api_user), sql.Literal(api_password)))
        for role in GROUP_ROLES:
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(api_user)))
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), sql.Identifier(api_user)))


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged migration, in order."""
    found = []
    for entry in resources.files("sigma_cloud.migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction, under an advisory lock. Returns applied names."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, text in migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(text)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


async def check_idle_connection(conn: psycopg.AsyncConnection) -> None:
    """The pool's check on checkout, without a round trip when nothing suggests a problem.

    An idle connection's socket has nothing to read unless the server spoke first: a restart or an administrator
    terminating backends sends an error and closes it (readable, then EOF). Only then the full check (an empty
    query) runs and raises for a dead connection, which the pool then replaces. The plain per-checkout round trip
    cost ~5 % of the ingest path's CPU (docs/cloud.md)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def acquire_within(sem: asyncio.Semaphore, limit: float) -> None:
    """Acquire ``sem`` within ``limit`` seconds or raise TimeoutError; a caller cancelled while waiting takes no
    permit with it. (``asyncio.timeout`` is Python 3.11+, and 3.10's ``wait_for`` can drop a permit won at the
    deadline: this works the same on every supported Python.)"""
    task = asyncio.ensure_future(sem.acquire())
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except BaseException:
        _abandon(task, sem)
        raise
    if not done:
        _abandon(task, sem)
        raise TimeoutError(f"not acquired within {limit:.2f} s")


def _abandon(task: asyncio.Future[Any], sem: asyncio.Semaphore) -> None:
    """Give back a permit the abandoned ``task`` already won, or cancel its wait."""
    if task.done() and not task.cancelled() and task.exception() is None:
        sem.release()
    else:
        task.cancel()


class GatedPool(AsyncConnectionPool):
    """An AsyncConnectionPool that lets at most `max_size` callers into its checkout at once; the others wait at an
    asyncio.Semaphore, bounded by the same timeout (PoolTimeout, as the pool raises).

    Why: psycopg_pool's checkout takes an internal asyncio.Lock whose acquire scans the lock's waiters, so thousands
    of concurrent requests (a fleet's long-polls past the knee) made every checkout a scan of the queue -- py-spy of a
    saturated worker showed it in asyncio/locks.py inside the pool, its connections idle in PostgreSQL, every request
    timing out (docs/cloud.md "Fleet scale", round 3)."""

    _gate: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[psycopg.AsyncConnection]:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.max_size)
        limit = self.timeout if timeout is None else timeout
        start = time.monotonic()
        try:
            await acquire_within(self._gate, limit)
        except TimeoutError as exc:
            raise PoolTimeout(f"couldn't get a connection after {limit:.2f} sec") from exc
        try:
            async with super().connection(timeout=max(0.001, limit - (time.monotonic() - start))) as conn:
                yield conn
        finally:
            self._gate.release()


def make_pool(url: str, *, min_size: int, max_size: int, timeout: float = 10.0) -> AsyncConnectionPool:
    """The API's pool (not yet open). Broken connections (e.g. after a database restart) are not checked out."""
    async def configure(conn: psycopg.AsyncConnection) -> None:
        install(conn)  # reads never fail on a stored value (sigma_cloud.core.payloads)

    return GatedPool(url, min_size=min_size, max_size=max_size, open=False, timeout=timeout,
                     check=check_idle_connection, kwargs={"autocommit": True}, configure=configure)


IDENTITY_SQL = ("SELECT set_config('role', %s, true), set_config('sigma.sites', %s, true), "
                "set_config('sigma.robot_id', %s, true), set_config('sigma.subject', %s, true)")


def identity_params(principal: Principal) -> tuple[str, str, str, str]:
    return (ROLE_OF[principal.role], ",".join(principal.sites), principal.robot_id or "", principal.subject)


@asynccontextmanager
async def transaction(pool: AsyncConnectionPool, principal: Principal) -> AsyncIterator[psycopg.AsyncConnection]:
    """One transaction acting as `principal`: role and identity are transaction-local, so RLS applies."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(IDENTITY_SQL, identity_params(principal))
        yield conn
