-- Hot-path refinement: the caller passes the index of each channel's newest event (p_latest, 1-based), so
-- robot_latest no longer sorts the whole batch (measured: 5 ms of 15 ms per 1000-event batch).
DROP FUNCTION ingest_batch(text, text, bigint[], float8[], smallint[], text[], real[], jsonb);
CREATE FUNCTION ingest_batch(p_robot text, p_nonce text, p_seq bigint[], p_ts float8[], p_channel smallint[],
                             p_payload text[], p_score real[], p_stats jsonb, p_latest integer[])
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
        IF 6 = ANY (p_channel) THEN
            INSERT INTO safety_events (robot_id, site_id, seq, ts, level, previous_level, authority,
                                       previous_authority, cause, payload)
            SELECT p_robot, v_site, x.seq, to_timestamp(x.ts), (x.j ->> 'level')::smallint,
                   (x.j ->> 'previous_level')::smallint, (x.j ->> 'authority')::smallint,
                   (x.j ->> 'previous_authority')::smallint, coalesce(x.j ->> 'cause', ''), x.j
            FROM (SELECT u.seq, u.ts, u.pl::jsonb AS j FROM unnest(p_seq, p_ts, p_channel, p_payload)
                  AS u(seq, ts, ch, pl) WHERE u.ch = 6 AND u.seq > v_hwm) AS x
            ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO robot_latest AS l (robot_id, site_id, channel, seq, ts, payload, score, stats)
        SELECT p_robot, v_site, p_channel[i], p_seq[i], to_timestamp(p_ts[i]), p_payload[i]::jsonb, p_score[i],
               p_stats -> p_channel[i]::text
        FROM unnest(p_latest) AS i
        WHERE p_seq[i] > v_hwm
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
GRANT EXECUTE ON FUNCTION ingest_batch(text, text, bigint[], float8[], smallint[], text[], real[], jsonb, integer[])
    TO sigma_device;
