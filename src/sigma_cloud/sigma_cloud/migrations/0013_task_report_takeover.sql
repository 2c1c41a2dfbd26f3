-- The swarm leader decides who holds a task; the cloud learns it from the robots' reports. Two cases the record
-- missed (issue #13, round 2):
-- * a robot lets a task go without failing it (its lease ran out, a safety stop): its executor reports CANCELED.
--   From the robot that holds the task (a cloud cancel is already terminal here) it puts the task back in the queue.
-- * the leader re-assigned a task (robot lost, lease expired): the new robot's ACCEPTED or SUCCEEDED arrives while
--   the record still names the old one. A report from another robot of the task's site now moves the task to it
--   (re-queued with the reason, then assigned ...). ACTIVE progress from a robot that does not hold the task still
--   changes nothing (a late report from the old holder cannot take it back), nor do its REFUSED/FAILED/PREEMPTED/
--   CANCELED; reports about another site's tasks are ignored as before.
CREATE OR REPLACE FUNCTION apply_task_report() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_id    uuid;
    v_state int := (NEW.payload ->> 'state')::int;
    v_t     tasks;
    v_actor text := 'robot:' || NEW.robot_id;
    v_why   text := left(coalesce(NEW.payload ->> 'reason', ''), 1024);
BEGIN
    BEGIN
        v_id := (NEW.payload ->> 'task_id')::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN NULL;
    END;
    SELECT * INTO v_t FROM tasks WHERE task_id = v_id AND site_id = NEW.site_id FOR UPDATE;
    IF NOT FOUND OR v_t.state IN ('done', 'failed', 'cancelled') THEN
        RETURN NULL;
    END IF;
    IF v_t.state <> 'queued' AND v_t.robot_id IS DISTINCT FROM NEW.robot_id AND v_state NOT IN (0, 3) THEN
        RETURN NULL;
    END IF;
    IF v_t.last_report_robot = NEW.robot_id AND NEW.ts <= v_t.last_report_ts THEN
        RETURN NULL;  -- a replayed or reordered report
    END IF;
    UPDATE tasks SET last_report_robot = NEW.robot_id, last_report_ts = NEW.ts WHERE task_id = v_id;
    IF v_state IN (0, 2, 3) THEN
        IF v_t.state <> 'queued' AND v_t.robot_id IS DISTINCT FROM NEW.robot_id THEN
            v_t := task_step(v_t, 'queued', 'leader',
                             're-assigned by the swarm leader: robot ' || NEW.robot_id || ' reports it, not '
                             || coalesce(v_t.robot_id, 'nobody'), NULL, NULL);
        END IF;
        IF v_t.state = 'queued' THEN
            v_t := task_step(v_t, 'assigned', v_actor, 'reported by the robot', NEW.robot_id, v_t.term);
        END IF;
        IF v_state IN (2, 3) AND v_t.state = 'assigned' THEN
            v_t := task_step(v_t, 'in_progress', v_actor, 'started', NEW.robot_id, v_t.term);
        END IF;
        IF v_state = 3 THEN
            v_t := task_step(v_t, 'done', v_actor, coalesce(nullif(v_why, ''), 'completed'), NEW.robot_id, v_t.term);
        END IF;
    ELSIF v_state IN (1, 4, 5, 6) AND v_t.state IN ('assigned', 'in_progress') THEN
        v_t := task_step(v_t, 'queued', v_actor,
                         'robot ' || NEW.robot_id || CASE WHEN v_state = 5 THEN ' let it go: ' ELSE ' gave it up: ' END
                         || coalesce(nullif(v_why, ''), 'no reason'), NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION apply_task_report() FROM PUBLIC;
