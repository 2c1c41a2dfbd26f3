-- Robot-side adoption of fleet models (docs/cognition.md, "Federated learning"): each robot fetches a new fleet
-- model version, runs its shadow check on its own recent data and reports the verdict with the figures; the rows
-- are append-only (the record of every adoption and refusal). Same security model as 0002.
CREATE TABLE model_adoptions (
    adoption_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    robot_id           text NOT NULL REFERENCES robots,
    site_id            text NOT NULL,
    version            integer NOT NULL REFERENCES model_versions,
    previous_version   integer NOT NULL CHECK (previous_version >= 0),
    adopted            boolean NOT NULL,
    reason             text NOT NULL CHECK (length(reason) <= 1000),
    local_accuracy     real NOT NULL CHECK (local_accuracy >= 0 AND local_accuracy <= 1),
    candidate_accuracy real NOT NULL CHECK (candidate_accuracy >= 0 AND candidate_accuracy <= 1),
    samples            integer NOT NULL CHECK (samples >= 0),
    reported_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_adoptions_version ON model_adoptions (version, robot_id);
CREATE INDEX model_adoptions_robot ON model_adoptions (robot_id, adoption_id DESC);

ALTER TABLE model_adoptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE model_adoptions FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON model_adoptions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON model_adoptions TO sigma_fleet_admin USING (true) WITH CHECK (true);
CREATE POLICY site_read ON model_adoptions FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
CREATE POLICY device_self ON model_adoptions TO sigma_device
    USING (robot_id = sigma_robot()) WITH CHECK (robot_id = sigma_robot());

GRANT SELECT, INSERT ON model_adoptions TO sigma_fleet_admin, sigma_device;
GRANT SELECT ON model_adoptions TO sigma_site_manager, sigma_operator;
