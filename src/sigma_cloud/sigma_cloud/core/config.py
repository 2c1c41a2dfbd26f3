"""Service settings (pydantic-settings): environment variables prefixed SIGMA_, plus DATABASE_URL."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_MARKERS = ("changeme", "dev-")


class Settings(BaseSettings):
    """One typed configuration object for the whole service."""

    model_config = SettingsConfigDict(env_prefix="SIGMA_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    # Owner connection (migrations, maintenance). Unset: the embedded PostgreSQL in data_dir/pg is started.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "SIGMA_DATABASE_URL"))
    # The API's own non-owner login role (RLS applies to it). Unset: derived from database_url with api_db_user.
    api_database_url: str | None = None
    api_db_user: str = "sigma_api"
    api_db_password: str | None = None
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=16, ge=1)
    pool_timeout_s: float = Field(default=10.0, gt=0, description="wait for a connection before answering 503")

    jwt_issuer: str = "sigmaprompt-cloud"
    jwt_audience: str = "sigmaprompt-fleet-api"
    jwt_algorithm: Literal["HS256", "RS256", "ES256", "EdDSA"] = "HS256"
    jwt_secret: str | None = None  # HS256 key, or the PEM public key for asymmetric algorithms
    jwt_ttl_s: int = Field(default=3600, gt=0)

    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(default=256 * 1024, gt=0, description="body bound of every route but ingest")
    max_events_per_batch: int = Field(default=10_000, gt=0, le=10_000)
    # Batches of at least this many events are stored by binary COPY (two round trips at the libpq level), smaller
    # ones by one pipelined ingest_batch() call. Every batch by default: the COPY path costs the API less CPU even
    # for a 4-event batch (docs/cloud.md "Ingest hot path", round 20).
    ingest_copy_min_events: int = Field(default=1, ge=1)
    # Admission (docs/cloud.md "Fleet scale"): at most this many batches of one API process in work at once, each on
    # one of as many dedicated ingest connections (a bulkhead beside the API's pool); a batch that waited
    # ingest_queue_wait_s for its turn is answered 503 + Retry-After before its body is read -- the robot keeps it and
    # sends it later, grown, instead of timing out (the bridge's request_timeout_s is 10 s) in a queue.
    ingest_concurrency: int = Field(default=4, ge=1, le=64)
    ingest_queue_wait_s: float = Field(default=5.0, gt=0)
    # A batch's body is read before it takes a slot (round 20: a client that withheld its body held a slot, before its
    # signature was even checked), within ingest_body_timeout_s (else 408, retryable); beyond ingest_max_pending
    # batches of one process being read or waiting for a slot, a new one is refused 503 before its body is read.
    ingest_body_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                         description="seconds a batch's body may take to arrive (else 408)")
    ingest_max_pending: int = Field(default=256, ge=1, le=100_000, description=(
        "batches of one API process being read or waiting for an ingest slot before new ones get 503"))
    # The priority lane (docs/device-protocol.md "Priority lane", issue 15): a batch signed for INGEST_PRIORITY_PATH
    # takes one of these slots (each with its own reserved connection) instead of a bulk one, so alert telemetry never
    # queues behind bulk batches -- if it deserves it: at most ingest_priority_max_events events (and
    # ingest_priority_max_bytes) with a safety event or an anomaly score >= ingest_priority_min_score; otherwise it
    # is demoted (processed in the bulk lane, same answer).
    ingest_priority_slots: int = Field(default=1, ge=1, le=8, description="priority-lane slots (and connections)")
    ingest_priority_max_events: int = Field(default=64, ge=1, le=10_000,
                                            description="largest batch the priority lane admits [events]")
    ingest_priority_max_bytes: int = Field(default=64 * 1024, ge=1024,
                                           description="largest body the priority lane admits [bytes]")
    ingest_priority_min_score: float = Field(default=6.0, gt=0, description=(
        "anomaly score at/above which an event earns the priority lane (the cognition rules' anomaly_threshold)"))
    max_event_age_s: float = Field(default=7 * 86400, gt=0)
    clock_skew_s: float = Field(default=300.0, gt=0, le=300.0)
    key_cache_ttl_s: float = Field(default=10.0, ge=0)
    # With the key listener up (migration 0072), a cached device key stays good until its robot's NOTIFY or this age.
    key_cache_max_age_s: float = Field(default=600.0, ge=0)

    partitions_ahead_days: int = Field(default=2, ge=1)
    telemetry_hash_partitions: int = Field(default=4, ge=1, le=64)
    retention_days: int = Field(default=90, ge=1)
    archive_url: str | None = None  # any fsspec URL (s3://bucket/prefix); unset: data_dir/archive
    maintenance_interval_s: float = Field(default=300.0, gt=0)
    # Ed25519 seed (base64) signing the audit-head checkpoints exported with the archives; unset: a key file in
    # data_dir. Keep it away from the database's owner (that is what makes a rewrite detectable).
    audit_signing_key: str | None = None
    # Ed25519 seed (base64) signing swarm site rosters (docs/swarm.md); unset: a key file in data_dir.
    roster_signing_key: str | None = None
    robot_silent_after_s: float = Field(default=60.0, gt=0, description="a robot not heard for this long is "
                                        "reported silent (metrics, alerts, incident response)")
    incident_check_interval_s: float = Field(default=10.0, gt=0, description="how often the automated incident "
                                             "response looks for silent robots")

    otel_exporter: Literal["none", "console", "otlp"] = "none"
    log_level: str = "INFO"
    # The cloud's own records at or above this level go into the log store (service_logs, docs/logs.md); OFF: none.
    log_store_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "OFF"] = "INFO"

    @model_validator(mode="after")
    def _refuse_retention_inside_ingest_window(self) -> Settings:
        # Partitions exist for every day events may still arrive for (partitions.ensure_partitions); archiving and
        # dropping such a day would only see it re-created empty next pass (and its late events split off).
        window_days = int(self.max_event_age_s // 86400) + 1
        if self.retention_days < window_days:
            raise ValueError(f"retention_days ({self.retention_days}) is shorter than the ingest window: events up to "
                             f"{self.max_event_age_s:.0f} s old are accepted, so partitions of the last {window_days} "
                             f"days are live; set SIGMA_RETENTION_DAYS >= {window_days} or lower "
                             "SIGMA_MAX_EVENT_AGE_S")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "production":
            for name in ("jwt_secret", "api_db_password"):
                value = getattr(self, name)
                if value is None or any(marker in value for marker in DEV_SECRET_MARKERS) or len(value) < 16:
                    raise ValueError(f"{name} must be set to a strong secret (SIGMA_{name.upper()}) in production; "
                                     "development defaults are refused")
            if self.database_url is None:
                raise ValueError("DATABASE_URL must be set in production (the embedded PostgreSQL is for development)")
        return self

    @property
    def archive_location(self) -> str:
        return self.archive_url or str((self.data_dir / "archive").resolve())


@lru_cache
def get_settings() -> Settings:
    return Settings()
