"""Fleet-state gauges for Prometheus, read from PostgreSQL at scrape time (aggregates per site, no per-robot series).

Each API replica reports the same fleet-wide values; the alert rules aggregate them with `max by (site)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge
from psycopg_pool import AsyncConnectionPool

from sigma_cloud.core.db import Principal, transaction

METRICS_PRINCIPAL = Principal(subject="system:metrics", role="fleet_admin")

ROBOTS_SQL = """
SELECT r.site_id,
       count(*) AS registered,
       count(*) FILTER (WHERE s.last_seen IS NULL OR s.last_seen < now() - make_interval(secs => %s)) AS silent,
       coalesce(extract(epoch FROM now() - max(s.last_seen)), 'NaN') AS newest_age
FROM robots r LEFT JOIN robot_ingest_state s USING (robot_id)
WHERE r.status = 'active'
GROUP BY r.site_id
"""
SAFETY_SQL = """
SELECT site_id, count(*) FROM safety_events
WHERE ts > now() - interval '5 minutes' AND coalesce(level, 0) >= 2
GROUP BY site_id
"""


@dataclass(frozen=True)
class SiteSnapshot:
    """What the gauges show for one site."""

    site_id: str
    registered: int
    silent: int
    newest_age_s: float
    safety_events_5m: int


class FleetGauges:
    """Gauges refreshed from the database before each scrape."""

    def __init__(self, registry: CollectorRegistry, silent_after_s: float) -> None:
        self.silent_after_s = silent_after_s
        self.robots = Gauge("sigma_site_robots", "active robots per site by state (silent: not heard for "
                            "silent_after_s)", ["site", "state"], registry=registry)
        self.newest_age = Gauge("sigma_site_newest_telemetry_age_seconds", "seconds since the newest durable "
                                "telemetry batch of any robot of the site (ingest lag)", ["site"], registry=registry)
        self.safety = Gauge("sigma_site_safety_events_5m", "safety events at level >= 2 (protective or emergency "
                            "stop) stored in the last 5 minutes", ["site"], registry=registry)
        self.scrape_ok = Gauge("sigma_fleet_metrics_up", "1 when the last fleet-state query succeeded",
                               registry=registry)

    async def snapshot(self, pool: AsyncConnectionPool) -> list[SiteSnapshot]:
        """One consistent read of every site's fleet state."""
        async with transaction(pool, METRICS_PRINCIPAL) as conn:
            robots = await (await conn.execute(ROBOTS_SQL, (self.silent_after_s,))).fetchall()
            safety = dict(await (await conn.execute(SAFETY_SQL)).fetchall())
        return [SiteSnapshot(site, int(reg), int(silent), float(age), int(safety.get(site, 0)))
                for site, reg, silent, age in robots]

    async def refresh(self, pool: AsyncConnectionPool) -> None:
        """Update every gauge; on a database error the gauges keep their last values and `up` drops to 0."""
        try:
            sites = await self.snapshot(pool)
        except Exception:  # noqa: BLE001 - a scrape must never fail because the database is away
            self.scrape_ok.set(0)
            return
        for metric in (self.robots, self.newest_age, self.safety):
            metric.clear()
        for s in sites:
            self.robots.labels(s.site_id, "registered").set(s.registered)
            self.robots.labels(s.site_id, "silent").set(s.silent)
            self.newest_age.labels(s.site_id).set(s.newest_age_s)
            self.safety.labels(s.site_id).set(s.safety_events_5m)
        self.scrape_ok.set(1)
