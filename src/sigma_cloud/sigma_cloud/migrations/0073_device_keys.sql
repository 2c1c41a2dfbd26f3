-- Device-key look-ups in bulk (issue 16, core/group_call.py): concurrent misses of the API's key cache (a cold start:
-- every robot's first request at once) are answered by one statement instead of one transaction per robot.
-- Public keys, sites and statuses only (what signature checks need; a public key is not a secret), for the ids asked.
CREATE FUNCTION device_keys(p_robots text[])
RETURNS TABLE (robot_id text, public_key text, site_id text, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT r.robot_id, r.public_key, r.site_id, r.status FROM robots r WHERE r.robot_id = ANY (p_robots)
$$;
REVOKE EXECUTE ON FUNCTION device_keys(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION device_keys(text[]) TO sigma_device;
