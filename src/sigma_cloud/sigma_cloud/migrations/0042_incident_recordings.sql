-- Incident recordings (docs/cognition.md): each robot uploads the black-box MCAP of an incident window in signed,
-- resumable chunks; the completed file is checked (size, SHA-256) and written once beside the telemetry archives;
-- `GET /v1/incidents/{id}/recording` serves it. Same security model as 0002: a robot sees and writes only its own
-- uploads; site managers and operators read their sites' rows; the fleet admin all.
CREATE TABLE incident_recordings (
    robot_id     text NOT NULL REFERENCES robots,
    site_id      text NOT NULL,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}\.mcap$'),
    size         bigint NOT NULL CHECK (size > 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    received     bigint NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= size),
    location     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (robot_id, name)
);

-- Chunks of an upload in progress (deleted when the file is complete): kept in the database so any API replica
-- continues an upload another one started, and an interrupted upload resumes at `received`.
CREATE TABLE incident_recording_chunks (
    robot_id text NOT NULL,
    name     text NOT NULL,
    "offset" bigint NOT NULL CHECK ("offset" >= 0),
    data     bytea NOT NULL,
    PRIMARY KEY (robot_id, name, "offset"),
    FOREIGN KEY (robot_id, name) REFERENCES incident_recordings ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['incident_recordings', 'incident_recording_chunks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY device_self ON %I TO sigma_device '
                       'USING (robot_id = sigma_robot()) WITH CHECK (robot_id = sigma_robot())', t);
    END LOOP;
END $$;
CREATE POLICY site_read ON incident_recordings FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));

GRANT SELECT, INSERT, UPDATE (received, location, completed_at) ON incident_recordings TO sigma_device;
GRANT SELECT, INSERT, DELETE ON incident_recording_chunks TO sigma_device;
GRANT SELECT ON incident_recordings TO sigma_fleet_admin, sigma_site_manager, sigma_operator;
