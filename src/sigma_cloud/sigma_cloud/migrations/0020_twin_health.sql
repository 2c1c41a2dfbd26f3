-- Digital-twin health (docs/twin.md): the robots' twin/health reports arrive on telemetry channel twin_health (8);
-- the history is the telemetry itself, the latest report robot_latest's row. Views with security_invoker, so the
-- caller's RLS on those tables applies unchanged. A site's maintenance policy (lead time, window length, at most K
-- robots out at once, off-peak hours) lives in site_maintenance_policies; same security model as 0002/0060.

CREATE VIEW twin_health_history WITH (security_invoker = true) AS
    SELECT robot_id, site_id, seq, ts, payload FROM telemetry WHERE channel = 8;
CREATE VIEW twin_health_latest WITH (security_invoker = true) AS
    SELECT robot_id, site_id, seq, ts, payload FROM robot_latest WHERE channel = 8;
GRANT SELECT ON twin_health_history, twin_health_latest TO sigma_fleet_admin, sigma_site_manager, sigma_operator;
-- Partial: only health rows are indexed, so the ingest hot path pays nothing for the other channels.
CREATE INDEX telemetry_twin_health ON telemetry (robot_id, ts) WHERE channel = 8;

CREATE TABLE site_maintenance_policies (
    site_id             text PRIMARY KEY REFERENCES sites,
    lead_time_h         real NOT NULL CHECK (lead_time_h BETWEEN 0 AND 720),
    duration_h          real NOT NULL CHECK (duration_h > 0 AND duration_h <= 168),
    max_out             integer NOT NULL CHECK (max_out BETWEEN 1 AND 10000),
    off_peak_start_hour smallint NOT NULL CHECK (off_peak_start_hour BETWEEN 0 AND 23),
    off_peak_end_hour   smallint NOT NULL CHECK (off_peak_end_hour BETWEEN 0 AND 24),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text NOT NULL
);

ALTER TABLE site_maintenance_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE site_maintenance_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON site_maintenance_policies TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON site_maintenance_policies TO sigma_fleet_admin USING (true) WITH CHECK (true);
CREATE POLICY site_read ON site_maintenance_policies FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
CREATE POLICY site_write ON site_maintenance_policies FOR INSERT TO sigma_site_manager
    WITH CHECK (site_id = ANY (sigma_sites()));
CREATE POLICY site_update ON site_maintenance_policies FOR UPDATE TO sigma_site_manager
    USING (site_id = ANY (sigma_sites())) WITH CHECK (site_id = ANY (sigma_sites()));
GRANT SELECT, INSERT, UPDATE ON site_maintenance_policies TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT ON site_maintenance_policies TO sigma_operator;
