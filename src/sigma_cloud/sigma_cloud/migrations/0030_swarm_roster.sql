-- Swarm rosters (docs/swarm.md): a per-site version that rises whenever the site's membership changes (a robot
-- registered, decommissioned, re-keyed or moved), and the roster a robot may read: the active robots of its OWN site,
-- through a SECURITY DEFINER function, because row-level security lets a device see only its own robots row.

CREATE TABLE site_roster_versions (
    site_id    text PRIMARY KEY REFERENCES sites,
    version    bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    changed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE site_roster_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE site_roster_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON site_roster_versions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_read ON site_roster_versions FOR SELECT TO sigma_fleet_admin USING (true);
CREATE POLICY site_read ON site_roster_versions FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
GRANT SELECT ON site_roster_versions TO sigma_fleet_admin, sigma_site_manager, sigma_operator;

INSERT INTO site_roster_versions (site_id) SELECT site_id FROM sites ON CONFLICT DO NOTHING;

CREATE FUNCTION bump_site_roster() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO site_roster_versions AS v (site_id) VALUES (NEW.site_id)
        ON CONFLICT (site_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    IF TG_OP = 'UPDATE' AND OLD.site_id IS DISTINCT FROM NEW.site_id THEN
        INSERT INTO site_roster_versions AS v (site_id) VALUES (OLD.site_id)
            ON CONFLICT (site_id) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER robots_roster_version AFTER INSERT OR UPDATE OF site_id, public_key, status ON robots
    FOR EACH ROW EXECUTE FUNCTION bump_site_roster();

-- The roster of the calling device's own site (sigma.robot_id, set per transaction); nothing for a robot that is
-- not active or asks for another site.
CREATE FUNCTION device_site_roster(p_site text)
    RETURNS TABLE (version bigint, robot_id text, public_key text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT v.version, r.robot_id, r.public_key
      FROM robots me
      JOIN site_roster_versions v ON v.site_id = me.site_id
      JOIN robots r ON r.site_id = me.site_id AND r.status = 'active'
     WHERE me.robot_id = sigma_robot() AND me.status = 'active' AND me.site_id = p_site
     ORDER BY r.robot_id
$$;
REVOKE ALL ON FUNCTION device_site_roster(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION device_site_roster(text) TO sigma_device;

-- Leader changes reported by robots (through the bridge's swarm_state channel): one row per (site, term).
CREATE TABLE swarm_leaders (
    site_id     text NOT NULL REFERENCES sites,
    term        bigint NOT NULL CHECK (term >= 0),
    leader      text NOT NULL,
    reported_by text NOT NULL REFERENCES robots,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, term)
);
ALTER TABLE swarm_leaders ENABLE ROW LEVEL SECURITY;
ALTER TABLE swarm_leaders FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON swarm_leaders TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_read ON swarm_leaders FOR SELECT TO sigma_fleet_admin USING (true);
CREATE POLICY site_read ON swarm_leaders FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
GRANT SELECT ON swarm_leaders TO sigma_fleet_admin, sigma_site_manager, sigma_operator;

-- A device reports the leader it follows: only for its own site, only a listed active robot as leader; the first
-- report of a term wins (one leader per term, so later reports of the same term agree or are ignored).
CREATE FUNCTION device_report_leader(p_term bigint, p_leader text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE my_site text;
BEGIN
    SELECT site_id INTO my_site FROM robots WHERE robot_id = sigma_robot() AND status = 'active';
    IF my_site IS NULL OR p_term < 0 OR NOT EXISTS (
        SELECT 1 FROM robots WHERE robot_id = p_leader AND site_id = my_site AND status = 'active') THEN
        RETURN false;
    END IF;
    INSERT INTO swarm_leaders (site_id, term, leader, reported_by) VALUES (my_site, p_term, p_leader, sigma_robot())
        ON CONFLICT (site_id, term) DO NOTHING;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION device_report_leader(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION device_report_leader(bigint, text) TO sigma_device;
