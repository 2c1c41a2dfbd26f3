-- Fleet cognition (docs/cognition.md): the Primary AI worker's per-robot cursor and bounded session memory, the
-- explanation and evidence of everything it did, and the long-horizon incident memory (pgvector). Same security
-- model as 0002: FORCE RLS, admin all, site managers and operators read their sites; the worker acts as
-- system:cognition (fleet admin) through the same per-transaction roles as every other writer.
-- The vector extension is not "trusted": the embedded bootstrap creates it as superuser before the migrations; on a
-- managed PostgreSQL the DBA runs CREATE EXTENSION vector once (docs/cognition.md).
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per robot: what the worker has consumed (seq of telemetry and safety events), its session memory (a
-- bounded JSON document written by sigma_cloud.cognition.memory), and who holds it (SKIP LOCKED claims).
CREATE TABLE cognition_cursor (
    robot_id    text PRIMARY KEY REFERENCES robots,
    site_id     text NOT NULL,
    last_seq    bigint NOT NULL DEFAULT 0,
    last_ts     double precision NOT NULL DEFAULT 0,
    memory      jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every act of the Primary AI: a decision sent down (decision_id) or a fleet action (tasks handed back), with the
-- rule that fired, its confidence, a human-readable explanation and the evidence it read (inputs), append-only.
CREATE TABLE cognition_actions (
    action_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    robot_id    text NOT NULL REFERENCES robots,
    site_id     text NOT NULL,
    rule        text NOT NULL,
    action      text NOT NULL,
    decision_id uuid REFERENCES decisions,
    confidence  real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    explanation text NOT NULL CHECK (length(explanation) <= 4000),
    evidence    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cognition_actions_robot ON cognition_actions (robot_id, action_id DESC);
CREATE UNIQUE INDEX cognition_actions_decision ON cognition_actions (decision_id) WHERE decision_id IS NOT NULL;

-- Long-horizon incident memory: each safety incident and anomaly window as a fixed-length signature of the telemetry
-- around it (sigma_cloud.cognition.signature, 64 values, unit length), with its outcome and what resolved it.
CREATE TABLE incidents (
    incident_id uuid PRIMARY KEY,
    robot_id    text NOT NULL REFERENCES robots,
    site_id     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('safety', 'anomaly')),
    at          timestamptz NOT NULL,
    summary     text NOT NULL CHECK (length(summary) <= 2000),
    signature   vector(64) NOT NULL,
    outcome     text NOT NULL DEFAULT 'open'
                CHECK (outcome IN ('open', 'resolved', 'false_alarm', 'hardware_fault', 'operator_intervention')),
    resolution  text NOT NULL DEFAULT '' CHECK (length(resolution) <= 2000),
    recording   text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incidents_robot_at ON incidents (robot_id, at DESC);
CREATE INDEX incidents_site_at ON incidents (site_id, at DESC);
CREATE INDEX incidents_signature ON incidents USING hnsw (signature vector_cosine_ops) WITH (m = 16, ef_construction = 64);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cognition_cursor', 'cognition_actions', 'incidents'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT TO sigma_site_manager, sigma_operator '
                       'USING (site_id = ANY (sigma_sites()))', t);
    END LOOP;
END $$;
-- A site manager records how an incident of its sites ended (outcome, resolution) and nothing else.
CREATE POLICY site_update ON incidents FOR UPDATE TO sigma_site_manager
    USING (site_id = ANY (sigma_sites())) WITH CHECK (site_id = ANY (sigma_sites()));

GRANT SELECT, INSERT, UPDATE ON cognition_cursor TO sigma_fleet_admin;
GRANT SELECT, INSERT ON cognition_actions TO sigma_fleet_admin;
GRANT SELECT, INSERT ON incidents TO sigma_fleet_admin;
GRANT UPDATE (outcome, resolution, recording) ON incidents TO sigma_fleet_admin;
GRANT UPDATE (outcome, resolution) ON incidents TO sigma_site_manager;
GRANT SELECT ON cognition_cursor, cognition_actions, incidents TO sigma_site_manager, sigma_operator;
