-- Core schema. Roles sigma_fleet_admin, sigma_site_manager, sigma_operator, sigma_device exist (created by bootstrap).

CREATE TABLE sites (
    site_id    text PRIMARY KEY CHECK (site_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fleets (
    fleet_id   text PRIMARY KEY CHECK (fleet_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    site_id    text NOT NULL REFERENCES sites,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE robots (
    robot_id          text PRIMARY KEY CHECK (robot_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    site_id           text NOT NULL REFERENCES sites,
    fleet_id          text REFERENCES fleets,
    model             text NOT NULL DEFAULT 'sigma_humanoid',
    public_key        text NOT NULL,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'decommissioned')),
    registered_at     timestamptz NOT NULL DEFAULT now(),
    decommissioned_at timestamptz
);
CREATE INDEX robots_site ON robots (site_id);

-- Per-robot ingest high-water mark: every seq <= last_seq is durable. Row lock serializes a robot's batches.
CREATE TABLE robot_ingest_state (
    robot_id     text PRIMARY KEY REFERENCES robots,
    site_id      text NOT NULL,
    last_seq     bigint NOT NULL DEFAULT 0,
    last_seen    timestamptz,
    events_total bigint NOT NULL DEFAULT 0
);

CREATE TABLE ingest_nonces (
    robot_id text NOT NULL,
    nonce    text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (robot_id, nonce)
);
CREATE INDEX ingest_nonces_seen ON ingest_nonces (seen_at);

-- Telemetry: range partitions per UTC day, each hash-partitioned by robot_id (created by sigma_cloud.core.partitions).
CREATE TABLE telemetry (
    robot_id    text NOT NULL,
    site_id     text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    channel     smallint NOT NULL,
    payload     jsonb NOT NULL,
    score       real NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
CREATE INDEX telemetry_robot_ts ON telemetry (robot_id, ts);

-- Latest event per robot and channel (the "latest state" hot query), plus the streaming-score state.
CREATE TABLE robot_latest (
    robot_id text NOT NULL,
    site_id  text NOT NULL,
    channel  smallint NOT NULL,
    seq      bigint NOT NULL,
    ts       timestamptz NOT NULL,
    payload  jsonb NOT NULL,
    score    real NOT NULL,
    stats    jsonb,
    PRIMARY KEY (robot_id, channel)
);

CREATE TABLE safety_events (
    robot_id           text NOT NULL,
    site_id            text NOT NULL,
    seq                bigint NOT NULL,
    ts                 timestamptz NOT NULL,
    level              smallint,
    previous_level     smallint,
    authority          smallint,
    previous_authority smallint,
    cause              text NOT NULL DEFAULT '',
    payload            jsonb NOT NULL,
    PRIMARY KEY (robot_id, seq)
);
CREATE INDEX safety_events_site_ts ON safety_events (site_id, ts DESC);

CREATE TABLE decisions (
    decision_id uuid PRIMARY KEY,
    robot_id    text NOT NULL REFERENCES robots,
    site_id     text NOT NULL,
    source      smallint NOT NULL CHECK (source IN (0, 1, 2)),
    confidence  real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    action      text NOT NULL,
    parameters  jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    deadline    timestamptz NOT NULL,
    created_by  text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected', 'expired')),
    acked_at    timestamptz,
    ack_detail  text
);
CREATE INDEX decisions_robot_pending ON decisions (robot_id, created_at) WHERE status = 'pending';

CREATE TABLE archive_catalog (
    partition_name text PRIMARY KEY,
    day            date NOT NULL UNIQUE,
    url            text NOT NULL,
    row_count      bigint NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now()
);

-- Append-only, hash-chained audit log. audit_head holds the chain tip; the trigger serializes on it.
CREATE TABLE audit_log (
    id        bigint PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor     text NOT NULL,
    action    text NOT NULL,
    site_id   text,
    target    text NOT NULL DEFAULT '',
    detail    jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL
);
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id   bigint NOT NULL,
    last_hash bytea NOT NULL
);
INSERT INTO audit_head VALUES (true, 0, sha256(''::bytea));

CREATE FUNCTION audit_row_hash(prev bytea, id bigint, at timestamptz, actor text, action text, site text,
                               target text, detail jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(prev || convert_to(concat_ws(E'\x1f', id::text, to_char(at AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.US'), actor, action, coalesce(site, ''), target, detail::text), 'UTF8'))
$$;

CREATE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_head%ROWTYPE;
BEGIN
    SELECT * INTO head FROM audit_head WHERE singleton FOR UPDATE;
    NEW.id := head.last_id + 1;
    NEW.at := clock_timestamp();
    NEW.prev_hash := head.last_hash;
    NEW.hash := audit_row_hash(head.last_hash, NEW.id, NEW.at, NEW.actor, NEW.action, NEW.site_id, NEW.target,
                               NEW.detail);
    UPDATE audit_head SET last_id = NEW.id, last_hash = NEW.hash WHERE singleton;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- First row whose hash does not match the chain (NULL when the chain is intact).
CREATE FUNCTION audit_verify() RETURNS bigint
LANGUAGE sql STABLE AS $$
    WITH chain AS (
        SELECT id, hash, prev_hash,
               audit_row_hash(prev_hash, id, at, actor, action, site_id, target, detail) AS recomputed,
               lag(hash, 1, sha256(''::bytea)) OVER (ORDER BY id) AS expected_prev,
               lag(id, 1, 0::bigint) OVER (ORDER BY id) AS previous_id
        FROM audit_log)
    SELECT min(id) FROM chain
    WHERE hash <> recomputed OR prev_hash <> expected_prev OR id <> previous_id + 1
$$;
