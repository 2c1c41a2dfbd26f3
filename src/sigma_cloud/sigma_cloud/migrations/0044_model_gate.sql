-- Drift gate on live traffic (docs/cognition.md, "Drift gate"): the fleet model in use and a candidate version are
-- scored side by side on every incident people resolve (its signature in, its outcome as the label); the gate's
-- state and its cursor over resolutions live in one row, written by the cognition worker (system:cognition, fleet
-- admin); every promotion, rejection and rollback goes to the audit log. Same security model as 0002.
ALTER TABLE incidents ADD COLUMN resolved_at timestamptz;
CREATE INDEX incidents_resolved ON incidents (resolved_at, incident_id) WHERE resolved_at IS NOT NULL;
GRANT UPDATE (resolved_at) ON incidents TO sigma_fleet_admin, sigma_site_manager;

CREATE TABLE model_gate (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    state         jsonb NOT NULL,
    cursor_at     timestamptz NOT NULL DEFAULT 'epoch',
    cursor_id     uuid,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE model_gate ENABLE ROW LEVEL SECURITY;
ALTER TABLE model_gate FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON model_gate TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON model_gate TO sigma_fleet_admin USING (true) WITH CHECK (true);
-- the gate holds no site's data (versions and counts over the fleet): people may read it
CREATE POLICY all_read ON model_gate FOR SELECT TO sigma_site_manager, sigma_operator USING (true);
GRANT SELECT, INSERT, UPDATE ON model_gate TO sigma_fleet_admin;
GRANT SELECT ON model_gate TO sigma_site_manager, sigma_operator;
