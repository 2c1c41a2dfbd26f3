-- audit_verify() also compares the chain's last row with audit_head (the tip the insert trigger maintains), so
-- truncating the newest rows is detected: it answers the first id that is missing or does not match the head.
-- A consistent rewrite of rows and head together is caught outside the database by the signed head checkpoints
-- exported with the archives (sigma_cloud.core.audit_anchor). SECURITY DEFINER: it reads audit_head, which no API
-- role may read directly.
CREATE OR REPLACE FUNCTION audit_verify() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH chain AS (
        SELECT id, hash, prev_hash,
               audit_row_hash(prev_hash, id, at, actor, action, site_id, target, detail) AS recomputed,
               lag(hash, 1, sha256(''::bytea)) OVER (ORDER BY id) AS expected_prev,
               lag(id, 1, 0::bigint) OVER (ORDER BY id) AS previous_id
        FROM audit_log),
    broken AS (
        SELECT min(id) AS id FROM chain
        WHERE hash <> recomputed OR prev_hash <> expected_prev OR id <> previous_id + 1),
    tip AS (
        SELECT coalesce(max(l.id), 0) AS last_id,
               coalesce((SELECT l2.hash FROM audit_log l2 ORDER BY l2.id DESC LIMIT 1), sha256(''::bytea)) AS last_hash
        FROM audit_log l)
    SELECT coalesce(
        (SELECT id FROM broken),
        (SELECT CASE WHEN h.last_id <> t.last_id OR h.last_hash <> t.last_hash THEN least(h.last_id, t.last_id) + 1 END
         FROM audit_head h, tip t WHERE h.singleton))
$$;
REVOKE EXECUTE ON FUNCTION audit_verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_verify() TO sigma_fleet_admin;
