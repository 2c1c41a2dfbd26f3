-- Ingest fast path (issue 16, docs/cloud.md "Ingest hot path"): a device's batch goes into telemetry by binary COPY.
-- COPY is refused on a table under row-level security, so the rows are COPYed into the day partition (partitions
-- carry no policies; nobody but the owner may read them, every reader goes through telemetry with FORCE RLS) by a
-- dedicated NOLOGIN role, sigma_ingest, that may insert five columns there and do nothing else. The two columns that
-- say whose rows they are, robot_id and site_id, it may not write at all: they come from column defaults, i.e. from
-- the transaction's device identity (sigma.robot_id, set from the verified signature) and the site ingest_begin()
-- read from the robot's own record under RLS. A transaction without a device identity fails closed (NOT NULL).
-- The per-robot high-water mark keeps the exactly-once rule: ingest_begin() locks it, only newer seqs are COPYed,
-- ingest_finish() moves it, all in one transaction that commits before the 200.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sigma_ingest') THEN
        CREATE ROLE sigma_ingest NOLOGIN;
    END IF;
END $$;
-- Whoever may act as a device may ingest (the API login role; sigma_cloud.core.db.ensure_roles does the same).
DO $$
DECLARE m text;
BEGIN
    FOR m IN SELECT r.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member
             WHERE a.roleid = 'sigma_device'::regrole LOOP
        EXECUTE format('GRANT sigma_ingest TO %I', m);
    END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO sigma_ingest;

CREATE FUNCTION sigma_ingest_site() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('sigma.ingest_site', true), '')
$$;

-- Prepares one day partition (called for existing ones below and by sigma_cloud.core.partitions.create_day).
CREATE FUNCTION telemetry_partition_for_ingest(p_partition regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN robot_id SET DEFAULT sigma_robot()', p_partition);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN site_id SET DEFAULT sigma_ingest_site()', p_partition);
    EXECUTE format('GRANT INSERT (seq, ts, channel, score, payload) ON %s TO sigma_ingest', p_partition);
END $$;
REVOKE EXECUTE ON FUNCTION telemetry_partition_for_ingest(regclass) FROM PUBLIC;

DO $$
DECLARE p regclass;
BEGIN
    FOR p IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'telemetry'::regclass LOOP
        PERFORM telemetry_partition_for_ingest(p);
    END LOOP;
END $$;

-- Runs as sigma_device (SECURITY INVOKER: RLS applies): lock the robot's high-water mark, refuse an unknown or
-- decommissioned robot, record the nonce (a replay is a unique violation), and name the site for the COPY.
CREATE FUNCTION ingest_begin(p_robot text, p_nonce text)
RETURNS TABLE (hwm bigint, site_id text)
LANGUAGE plpgsql AS $$
DECLARE
    v_hwm bigint;
    v_site text;
    v_status text;
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
    PERFORM set_config('sigma.ingest_site', v_site, true);
    RETURN QUERY SELECT v_hwm, v_site;
END $$;

-- Runs as sigma_device after the COPY: safety events, the newest event per channel (with the scorer's statistics),
-- and the high-water mark (+ the robot's latest trace, migration 0070). Returns the new high-water mark.
CREATE FUNCTION ingest_finish(p_robot text, p_accepted integer, p_max_seq bigint,
                              p_l_seq bigint[], p_l_ts float8[], p_l_channel smallint[], p_l_payload text[],
                              p_l_score real[], p_stats jsonb,
                              p_s_seq bigint[], p_s_ts float8[], p_s_payload text[], p_traceparent text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := sigma_ingest_site();
    v_hwm bigint;
BEGIN
    IF cardinality(p_s_seq) > 0 THEN
        INSERT INTO safety_events (robot_id, site_id, seq, ts, level, previous_level, authority,
                                   previous_authority, cause, payload)
        SELECT p_robot, v_site, x.seq, to_timestamp(x.ts), (x.j ->> 'level')::smallint,
               (x.j ->> 'previous_level')::smallint, (x.j ->> 'authority')::smallint,
               (x.j ->> 'previous_authority')::smallint, coalesce(x.j ->> 'cause', ''), x.j
        FROM (SELECT u.seq, u.ts, u.pl::jsonb AS j FROM unnest(p_s_seq, p_s_ts, p_s_payload) AS u(seq, ts, pl)) AS x
        ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO robot_latest AS l (robot_id, site_id, channel, seq, ts, payload, score, stats)
    SELECT p_robot, v_site, u.ch, u.seq, to_timestamp(u.ts), u.pl::jsonb, u.sc, p_stats -> u.ch::text
    FROM unnest(p_l_seq, p_l_ts, p_l_channel, p_l_payload, p_l_score) AS u(seq, ts, ch, pl, sc)
    ON CONFLICT (robot_id, channel) DO UPDATE
        SET seq = excluded.seq, ts = excluded.ts, payload = excluded.payload, score = excluded.score,
            stats = excluded.stats
        WHERE l.seq < excluded.seq;
    UPDATE robot_ingest_state SET last_seq = greatest(last_seq, p_max_seq), last_seen = now(),
                                  events_total = events_total + p_accepted,
                                  last_traceparent = coalesce(p_traceparent, last_traceparent)
    WHERE robot_id = p_robot
    RETURNING last_seq INTO v_hwm;
    RETURN v_hwm;
END $$;

REVOKE EXECUTE ON FUNCTION ingest_begin(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ingest_finish(text, integer, bigint, bigint[], float8[], smallint[], text[], real[], jsonb,
                                         bigint[], float8[], text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_begin(text, text) TO sigma_device;
GRANT EXECUTE ON FUNCTION ingest_finish(text, integer, bigint, bigint[], float8[], smallint[], text[], real[], jsonb,
                                        bigint[], float8[], text[], text) TO sigma_device;
