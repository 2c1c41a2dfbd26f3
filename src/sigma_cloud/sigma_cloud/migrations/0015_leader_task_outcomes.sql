-- Fleet tasks, issue #13 round 3: what only the swarm leader knows reaches the cloud's record, fenced by its term.
-- Until now the record moved only on robots' reports and the API's cancel, so a task the leader could not place
-- showed "queued" with no reason, and one whose deadline passed while nobody could take it stayed "queued" at the
-- cloud while the leader had failed it. The leader now reports both (POST /v1/devices/{robot}/leadership/tasks):
--   * outcome 'waiting': why no robot can take the task now (the leader's infeasibility reason, in words) - kept in
--     tasks.waiting_reason while the task is queued;
--   * outcome 'failed': the leader failed a queued task (its deadline passed) - queued -> failed with the reason.
-- Fencing: only the leader that claimed the term it reports for, and only while no newer term is known for the
-- site (a claim, or its robots' reports through the bridge), may do so; anything else raises SQLSTATE 'SX409',
-- which the API answers with 409 problem+json (stale-term), so a deposed leader's late update never moves a record.

ALTER TABLE tasks ADD COLUMN waiting_reason text NOT NULL DEFAULT '', ADD COLUMN waiting_since timestamptz;

-- A transition out of the queue ends the wait (its reason is history then).
CREATE OR REPLACE FUNCTION task_step(p_task tasks, p_to text, p_actor text, p_reason text, p_robot text, p_term bigint)
RETURNS tasks LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE v tasks;
BEGIN
    UPDATE tasks SET state = p_to, robot_id = p_robot, term = p_term, reason = p_reason, updated_at = now(),
                     waiting_reason = CASE WHEN p_to = 'queued' THEN waiting_reason ELSE '' END,
                     waiting_since = CASE WHEN p_to = 'queued' THEN waiting_since END
    WHERE task_id = p_task.task_id RETURNING * INTO v;
    INSERT INTO task_transitions (task_id, site_id, from_state, to_state, actor, reason, robot_id, term)
    VALUES (p_task.task_id, p_task.site_id, p_task.state, p_to, p_actor, p_reason, p_robot, p_term);
    RETURN v;
END $$;
REVOKE EXECUTE ON FUNCTION task_step(tasks, text, text, text, text, bigint) FROM PUBLIC;

-- One outcome from the calling robot as its site's leader for p_term: 'applied', 'unchanged' (the task is no longer
-- queued: a robot's report moved it meanwhile) or 'unknown' (not a task of this site).
CREATE FUNCTION leader_task_outcome(p_robot text, p_term bigint, p_task uuid, p_outcome text, p_reason text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_site    text;
    v_current bigint;
    v_t       tasks;
    v_why     text := left(coalesce(nullif(p_reason, ''), 'no reason given'), 1024);
BEGIN
    IF p_robot IS DISTINCT FROM sigma_robot() THEN
        RAISE EXCEPTION 'robot % may not act as %', sigma_robot(), p_robot USING ERRCODE = '42501';
    END IF;
    SELECT site_id INTO v_site FROM robots WHERE robot_id = p_robot AND status = 'active';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'robot % is not active', p_robot USING ERRCODE = '42501';
    END IF;
    IF p_outcome NOT IN ('failed', 'waiting') THEN
        RAISE EXCEPTION 'outcome % is not failed or waiting', p_outcome USING ERRCODE = '22023';
    END IF;
    SELECT term INTO v_current FROM site_leaders WHERE site_id = v_site;
    IF to_regclass('public.swarm_leaders') IS NOT NULL THEN
        EXECUTE 'SELECT greatest($1, max(term)) FROM swarm_leaders WHERE site_id = $2'
            INTO v_current USING v_current, v_site;
    END IF;
    IF v_current IS NOT NULL AND p_term < v_current THEN
        RAISE EXCEPTION 'term % is older than the site''s current leader term %', p_term, v_current
            USING ERRCODE = 'SX409';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM site_leaders WHERE site_id = v_site AND robot_id = p_robot AND term = p_term) THEN
        RAISE EXCEPTION 'robot % has not claimed the leadership of term % (POST /v1/devices/%/leadership first)',
            p_robot, p_term, p_robot USING ERRCODE = 'SX409';
    END IF;
    SELECT * INTO v_t FROM tasks WHERE task_id = p_task AND site_id = v_site FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF v_t.state <> 'queued' THEN
        RETURN 'unchanged';
    END IF;
    IF p_outcome = 'failed' THEN
        PERFORM task_step(v_t, 'failed', 'leader:' || p_robot, v_why, NULL, p_term);
    ELSE
        UPDATE tasks SET waiting_reason = v_why, waiting_since = now() WHERE task_id = p_task;
    END IF;
    RETURN 'applied';
END $$;
REVOKE EXECUTE ON FUNCTION leader_task_outcome(text, bigint, uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leader_task_outcome(text, bigint, uuid, text, text) TO sigma_device;
