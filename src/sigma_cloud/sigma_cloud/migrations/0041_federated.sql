-- Federated learning (docs/cognition.md): robots upload their local anomaly model's parameters (never data); a fleet
-- admin's aggregation round turns the newest update of each robot into a new fleet model version, which robots fetch
-- (signed) and adopt after their own shadow check. Same security model as 0002.
CREATE TABLE model_updates (
    update_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    robot_id    text NOT NULL REFERENCES robots,
    site_id     text NOT NULL,
    base_version integer NOT NULL CHECK (base_version >= 0),
    model       jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_updates_robot ON model_updates (robot_id, update_id DESC);

CREATE TABLE model_versions (
    version     integer PRIMARY KEY CHECK (version >= 1),
    model       jsonb NOT NULL,
    robots      text[] NOT NULL,
    robust      jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE model_updates ENABLE ROW LEVEL SECURITY;
ALTER TABLE model_updates FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON model_updates TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON model_updates TO sigma_fleet_admin USING (true) WITH CHECK (true);
CREATE POLICY site_read ON model_updates FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
CREATE POLICY device_self ON model_updates TO sigma_device
    USING (robot_id = sigma_robot()) WITH CHECK (robot_id = sigma_robot());

-- Fleet models hold no site's data (parameters aggregated over the fleet): every role may read them.
ALTER TABLE model_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE model_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON model_versions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON model_versions TO sigma_fleet_admin USING (true) WITH CHECK (true);
CREATE POLICY all_read ON model_versions FOR SELECT TO sigma_site_manager, sigma_operator, sigma_device USING (true);

GRANT SELECT, INSERT ON model_updates TO sigma_fleet_admin, sigma_device;
GRANT SELECT ON model_updates TO sigma_site_manager, sigma_operator;
GRANT SELECT, INSERT ON model_versions TO sigma_fleet_admin;
GRANT SELECT ON model_versions TO sigma_site_manager, sigma_operator, sigma_device;
