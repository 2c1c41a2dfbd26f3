-- Fleet console (docs/console.md): people who sign in with a password, and each site's floor plan.

-- Console users: a scrypt hash (sigma_cloud.console.passwords), the role and sites their JWT will carry.
-- Nobody reads this table through the API roles; sign-in calls console_credentials() below.
CREATE TABLE console_users (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
    role          text NOT NULL CHECK (role IN ('fleet_admin', 'site_manager', 'operator')),
    sites         text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE console_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_users FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON console_users TO CURRENT_USER USING (true) WITH CHECK (true);

-- The one read sign-in needs: one user's hash, role and sites (owner rights; the table stays unreadable).
CREATE FUNCTION console_credentials(p_username text)
RETURNS TABLE (password_hash text, role text, sites text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.password_hash, u.role, u.sites FROM console_users u WHERE u.username = p_username
$$;
REVOKE EXECUTE ON FUNCTION console_credentials(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION console_credentials(text) TO sigma_operator;

-- A site's floor plan for the console map (bounds, zones, docks, shelves; sigma_cloud.console.sitemap).
CREATE TABLE site_maps (
    site_id    text PRIMARY KEY REFERENCES sites,
    map        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);
ALTER TABLE site_maps ENABLE ROW LEVEL SECURITY;
ALTER TABLE site_maps FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON site_maps TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON site_maps TO sigma_fleet_admin USING (true) WITH CHECK (true);
CREATE POLICY site_read ON site_maps FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
CREATE POLICY site_write ON site_maps FOR INSERT TO sigma_site_manager WITH CHECK (site_id = ANY (sigma_sites()));
CREATE POLICY site_update ON site_maps FOR UPDATE TO sigma_site_manager
    USING (site_id = ANY (sigma_sites())) WITH CHECK (site_id = ANY (sigma_sites()));
GRANT SELECT, INSERT, UPDATE ON site_maps TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT ON site_maps TO sigma_operator;
