-- The site's leader for tasks is the highest term known from either source: a leader's own claim (site_leaders,
-- POST /v1/devices/{robot}/leadership) or its followers' reports through the bridge (swarm_leaders, migration 0030).
-- A claim older than a reported term is refused, so the two never disagree about which term is newest.
CREATE OR REPLACE FUNCTION claim_site_leadership(p_robot text, p_term bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE v_site text; v_ok boolean;
BEGIN
    IF p_robot IS DISTINCT FROM sigma_robot() THEN
        RAISE EXCEPTION 'robot % may not act as %', sigma_robot(), p_robot USING ERRCODE = '42501';
    END IF;
    SELECT site_id INTO v_site FROM robots WHERE robot_id = p_robot AND status = 'active';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'robot % is not active', p_robot USING ERRCODE = '42501';
    END IF;
    IF to_regclass('public.swarm_leaders') IS NOT NULL AND EXISTS (
            SELECT 1 FROM swarm_leaders s WHERE s.site_id = v_site AND s.term > p_term) THEN
        RETURN false;
    END IF;
    INSERT INTO site_leaders AS l (site_id, robot_id, term) VALUES (v_site, p_robot, p_term)
    ON CONFLICT (site_id) DO UPDATE SET robot_id = excluded.robot_id, term = excluded.term, since = now()
        WHERE l.term < excluded.term OR (l.term = excluded.term AND l.robot_id = excluded.robot_id)
    RETURNING true INTO v_ok;
    RETURN coalesce(v_ok, false);
END $$;
