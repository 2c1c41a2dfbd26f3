-- Row-level security: every table FORCE RLS; the API connects as a NOINHERIT login role and takes one of these
-- group roles per transaction (SET LOCAL ROLE), with its identity in transaction-local settings sigma.sites /
-- sigma.robot_id / sigma.subject. CURRENT_USER here is the schema owner (migrations and maintenance).

CREATE FUNCTION sigma_sites() RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT string_to_array(nullif(current_setting('sigma.sites', true), ''), ',')
$$;
CREATE FUNCTION sigma_robot() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('sigma.robot_id', true), '')
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'fleets', 'robots', 'robot_ingest_state', 'ingest_nonces', 'telemetry',
                             'robot_latest', 'safety_events', 'decisions', 'archive_catalog', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
    END LOOP;
    -- Tables human roles read by site.
    FOREACH t IN ARRAY ARRAY['sites', 'fleets', 'robots', 'robot_ingest_state', 'telemetry', 'robot_latest',
                             'safety_events', 'decisions', 'audit_log'] LOOP
        EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT TO sigma_site_manager, sigma_operator '
                       'USING (site_id = ANY (sigma_sites()))', t);
    END LOOP;
    -- Tables site managers write, within their sites only.
    FOREACH t IN ARRAY ARRAY['fleets', 'robots', 'robot_ingest_state', 'decisions', 'audit_log'] LOOP
        EXECUTE format('CREATE POLICY site_write ON %I FOR INSERT TO sigma_site_manager '
                       'WITH CHECK (site_id = ANY (sigma_sites()))', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['fleets', 'robots', 'decisions'] LOOP
        EXECUTE format('CREATE POLICY site_update ON %I FOR UPDATE TO sigma_site_manager '
                       'USING (site_id = ANY (sigma_sites())) WITH CHECK (site_id = ANY (sigma_sites()))', t);
    END LOOP;
    -- Device: only rows of its own robot.
    FOREACH t IN ARRAY ARRAY['robots', 'robot_ingest_state', 'ingest_nonces', 'telemetry', 'robot_latest',
                             'safety_events', 'decisions'] LOOP
        EXECUTE format('CREATE POLICY device_self ON %I TO sigma_device '
                       'USING (robot_id = sigma_robot()) WITH CHECK (robot_id = sigma_robot())', t);
    END LOOP;
END $$;

CREATE POLICY catalog_read ON archive_catalog FOR SELECT TO sigma_site_manager, sigma_operator USING (true);

-- Privileges (what each role may do at all; RLS then narrows the rows).
GRANT USAGE ON SCHEMA public TO sigma_fleet_admin, sigma_site_manager, sigma_operator, sigma_device;
GRANT SELECT, INSERT, UPDATE, DELETE ON sites, fleets TO sigma_fleet_admin;
GRANT SELECT, INSERT, UPDATE ON robots, robot_ingest_state, decisions TO sigma_fleet_admin;
GRANT SELECT ON telemetry, robot_latest, safety_events, archive_catalog TO sigma_fleet_admin;
GRANT SELECT, INSERT ON audit_log TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT ON sites TO sigma_site_manager;
GRANT SELECT, INSERT, UPDATE ON fleets, robots, decisions TO sigma_site_manager;
GRANT SELECT, INSERT ON robot_ingest_state TO sigma_site_manager;
GRANT SELECT ON telemetry, robot_latest, safety_events, archive_catalog TO sigma_site_manager;
GRANT SELECT ON sites, fleets, robots, robot_ingest_state, telemetry, robot_latest, safety_events, decisions,
    archive_catalog, audit_log TO sigma_operator;
GRANT SELECT ON robots, decisions TO sigma_device;
GRANT UPDATE (status, acked_at, ack_detail) ON decisions TO sigma_device;
GRANT SELECT, UPDATE ON robot_ingest_state TO sigma_device;
GRANT SELECT, INSERT, UPDATE ON robot_latest TO sigma_device;
GRANT INSERT ON ingest_nonces, telemetry, safety_events TO sigma_device;
GRANT EXECUTE ON FUNCTION audit_verify() TO sigma_fleet_admin;

-- The ingest hot path: one call per batch, all or nothing, deduplicated under the robot's high-water mark.
-- SECURITY INVOKER: it runs as sigma_device, so RLS checks every row it writes.
CREATE FUNCTION ingest_batch(p_robot text, p_nonce text, p_seq bigint[], p_ts float8[], p_channel smallint[],
                             p_payload text[], p_score real[], p_stats jsonb)
RETURNS TABLE (accepted integer, duplicates integer, acked_through bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_hwm bigint;
    v_site text;
    v_status text;
    v_n integer;
    v_max bigint;
BEGIN
    SELECT s.last_seq, s.site_id INTO v_hwm, v_site FROM robot_ingest_state s WHERE s.robot_id = p_robot FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'robot % is not registered', p_robot USING ERRCODE = 'SG401';
    END IF;
    SELECT r.status INTO v_status FROM robots r WHERE r.robot_id = p_robot;
    IF v_status IS DISTINCT FROM 'active' THEN
        RAISE EXCEPTION 'robot % is %', p_robot, v_status USING ERRCODE = 'SG403';
    END IF;
    INSERT INTO ingest_nonces (robot_id, nonce) VALUES (p_robot, p_nonce);
    INSERT INTO telemetry (robot_id, site_id, seq, ts, channel, payload, score)
    SELECT p_robot, v_site, u.seq, to_timestamp(u.ts), u.ch, u.pl::jsonb, u.sc
    FROM unnest(p_seq, p_ts, p_channel, p_payload, p_score) AS u(seq, ts, ch, pl, sc)
    WHERE u.seq > v_hwm;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        INSERT INTO safety_events (robot_id, site_id, seq, ts, level, previous_level, authority, previous_authority,
                                   cause, payload)
        SELECT p_robot, v_site, u.seq, to_timestamp(u.ts), (u.pl::jsonb ->> 'level')::smallint,
               (u.pl::jsonb ->> 'previous_level')::smallint, (u.pl::jsonb ->> 'authority')::smallint,
               (u.pl::jsonb ->> 'previous_authority')::smallint, coalesce(u.pl::jsonb ->> 'cause', ''), u.pl::jsonb
        FROM unnest(p_seq, p_ts, p_channel, p_payload) AS u(seq, ts, ch, pl)
        WHERE u.ch = 6 AND u.seq > v_hwm
        ON CONFLICT DO NOTHING;
        INSERT INTO robot_latest AS l (robot_id, site_id, channel, seq, ts, payload, score, stats)
        SELECT DISTINCT ON (u.ch) p_robot, v_site, u.ch, u.seq, to_timestamp(u.ts), u.pl::jsonb, u.sc,
               p_stats -> u.ch::text
        FROM unnest(p_seq, p_ts, p_channel, p_payload, p_score) AS u(seq, ts, ch, pl, sc)
        WHERE u.seq > v_hwm
        ORDER BY u.ch, u.seq DESC
        ON CONFLICT (robot_id, channel) DO UPDATE
            SET seq = excluded.seq, ts = excluded.ts, payload = excluded.payload, score = excluded.score,
                stats = excluded.stats
            WHERE l.seq < excluded.seq;
        SELECT max(s) INTO v_max FROM unnest(p_seq) AS s;
        UPDATE robot_ingest_state SET last_seq = v_max, last_seen = now(), events_total = events_total + v_n
        WHERE robot_id = p_robot;
    END IF;
    RETURN QUERY SELECT v_n, cardinality(p_seq) - v_n, greatest(v_hwm, coalesce(v_max, v_hwm));
END $$;
GRANT EXECUTE ON FUNCTION ingest_batch(text, text, bigint[], float8[], smallint[], text[], real[], jsonb)
    TO sigma_device;
