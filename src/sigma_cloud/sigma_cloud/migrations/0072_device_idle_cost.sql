-- Per-robot cost that does not scale with events (issue 16, docs/cloud.md "Fleet scale", round 4).
-- 1. A robot's key, status or site changes -> NOTIFY sigma_robot_keys: each API process drops that robot's cached key
--    (core/notifier.py), so the cache no longer re-reads every robot's key every key_cache_ttl_s.
-- 2. device_pending_robots(): the robots with a pending, unexpired decision, read once when a process's listener
--    (re)connects; NOTIFY sigma_decisions (migration 0003) keeps that set current, so an idle long-poll costs no
--    database transaction.
-- 3. claim_device_nonces(): the long-polls' request nonces claimed in one statement per flush (group commit) instead of
--    one transaction per long-poll. Same replay rule: a nonce is claimed once, before anything is answered.

CREATE FUNCTION robots_key_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sigma_robot_keys', CASE WHEN TG_OP = 'DELETE' THEN OLD.robot_id ELSE NEW.robot_id END);
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION robots_key_notify() FROM PUBLIC;
CREATE TRIGGER robots_key_notify_insert AFTER INSERT OR DELETE ON robots
    FOR EACH ROW EXECUTE FUNCTION robots_key_notify();
CREATE TRIGGER robots_key_notify_update AFTER UPDATE OF public_key, status, site_id ON robots
    FOR EACH ROW WHEN (OLD.public_key IS DISTINCT FROM NEW.public_key OR OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.site_id IS DISTINCT FROM NEW.site_id)
    EXECUTE FUNCTION robots_key_notify();

-- Only robot ids (no decision content): the API process, which already acts as any verified device, learns which
-- robots it must read decisions for.
CREATE FUNCTION device_pending_robots() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT robot_id FROM decisions WHERE status = 'pending' AND deadline > now()
$$;
REVOKE EXECUTE ON FUNCTION device_pending_robots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION device_pending_robots() TO sigma_device;

-- Claims many robots' request nonces at once; returns the (robot, nonce) pairs that were new (the others are replays).
-- Insert-only into ingest_nonces, for robots that exist: nothing is read back but the caller's own pairs.
CREATE FUNCTION claim_device_nonces(p_robots text[], p_nonces text[])
RETURNS TABLE (robot_id text, nonce text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO ingest_nonces AS n (robot_id, nonce)
    SELECT u.r, u.n FROM unnest(p_robots, p_nonces) AS u(r, n)
    WHERE EXISTS (SELECT FROM robots r WHERE r.robot_id = u.r)
    ON CONFLICT DO NOTHING
    RETURNING n.robot_id, n.nonce
$$;
REVOKE EXECUTE ON FUNCTION claim_device_nonces(text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_device_nonces(text[], text[]) TO sigma_device;
