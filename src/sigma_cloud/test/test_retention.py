"""Retention: an old day partition goes to Parquet, is catalogued and dropped; the API still answers for it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from sigma_cloud.core.maintenance import run_once
from sigma_cloud.core.partitions import create_day, partition_name


def test_old_partition_is_archived_and_still_queryable(cloud) -> None:
    cloud.robot("ret-1", "site-ret")
    today = dt.datetime.now(dt.timezone.utc).date()
    old = today - dt.timedelta(days=cloud.settings.retention_days + 10)
    base = dt.datetime.combine(old, dt.time(12), dt.timezone.utc)
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        create_day(conn, old, cloud.settings.telemetry_hash_partitions)
        with conn.transaction():
            for i in range(120):
                conn.execute("INSERT INTO telemetry (robot_id, site_id, seq, ts, channel, payload, score) VALUES "
                             "('ret-1', 'site-ret', %s, %s, 2, %s, %s)",
                             (i + 1, base + dt.timedelta(seconds=i), f'{{"voltage": {40 + i * 0.01}}}', i / 10))
    result = run_once(cloud.runtime.owner_url, cloud.settings, today)
    assert old.isoformat() in result["archived"]
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (partition_name(old),)).fetchone()[0] is None
        url, rows = conn.execute("SELECT url, row_count FROM archive_catalog WHERE day = %s", (old,)).fetchone()
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE target = %s",
                                              (partition_name(old),))]
    assert rows == 120 and Path(url).exists() and actions == ["retention.archive"]
    # Partitions for the accepted window still exist (created ahead), nothing recent was archived.
    assert all(d < (today - dt.timedelta(days=cloud.settings.retention_days)).isoformat()
               for d in result["archived"])

    params = {"start": (base - dt.timedelta(minutes=1)).isoformat(), "end": (base + dt.timedelta(hours=1)).isoformat()}
    raw = cloud.http.get("/v1/robots/ret-1/telemetry", headers=cloud.token(), params={**params, "limit": 50})
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["archived_days"] == [old.isoformat()]
    assert [p["seq"] for p in body["items"]] == list(range(1, 51))
    assert body["items"][0]["payload"] == {"voltage": 40.0} and body["items"][0]["channel"] == "battery"
    bucketed = cloud.http.get("/v1/robots/ret-1/telemetry", headers=cloud.token(),
                              params={**params, "bucket_s": 60}).json()["items"]
    assert [(p["count"], p["seq"]) for p in bucketed] == [(60, 60), (60, 120)]
    assert abs(bucketed[1]["score"] - 11.9) < 1e-5
    other_site = cloud.token("operator", ("site-a",))
    assert cloud.http.get("/v1/robots/ret-1/telemetry", headers=other_site, params=params).status_code == 404
