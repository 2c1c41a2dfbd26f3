"""Periodic maintenance as the schema owner: partitions ahead, nonce purge, retention archive, audit checkpoint."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import psycopg

from sigma_cloud.core.audit_anchor import export_checkpoint
from sigma_cloud.core.config import Settings
from sigma_cloud.core.log_retention import drop_old_log_partitions
from sigma_cloud.core.partitions import ensure_partitions, purge_nonces
from sigma_cloud.core.retention import archive_old_partitions
from sigma_cloud.core.rows import one_row

log = logging.getLogger("sigma_cloud.maintenance")
MAINTENANCE_LOCK = 7_281_002


def run_once(owner_url: str, settings: Settings, today: dt.date | None = None) -> dict[str, list]:
    """One maintenance pass; returns what it created and archived."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # Every replica runs this loop; one pass at a time across the deployment.
        if not one_row(conn.execute("SELECT pg_try_advisory_lock(%s)", (MAINTENANCE_LOCK,)).fetchone(),
                       "pg_try_advisory_lock")[0]:
            return {"created": [], "archived": [], "skipped": ["another replica holds the maintenance lock"]}
        try:
            created = ensure_partitions(conn, settings, today)
            purge_nonces(conn, 2 * settings.clock_skew_s)
            archived = archive_old_partitions(conn, settings, today)
            logs_dropped = drop_old_log_partitions(conn, settings.retention_days, today)  # docs/logs.md
            checkpoint = export_checkpoint(conn, settings)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MAINTENANCE_LOCK,))
    return {"created": created, "archived": [d.isoformat() for d in archived],
            "audit_checkpoint": [checkpoint] if checkpoint else [],
            "logs_dropped": [d.isoformat() for d in logs_dropped]}


async def loop(owner_url: str, settings: Settings) -> None:
    """Run maintenance every maintenance_interval_s until cancelled; failures are logged and retried."""
    while True:
        try:
            result = await asyncio.to_thread(run_once, owner_url, settings)
            if result["created"] or result["archived"]:
                log.info("maintenance: %s", result)
        except (psycopg.Error, OSError, RuntimeError) as exc:
            log.warning("maintenance pass failed: %s", exc)
        await asyncio.sleep(settings.maintenance_interval_s)
