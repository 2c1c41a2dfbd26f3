-- Robots' task reports arrive at least once: a restarted bridge re-uploads the transient-local history of
-- tasks/status under new sequence numbers. A report no newer (by the robot's own clock) than the last one applied
-- from the same robot is stale and changes nothing.
ALTER TABLE tasks ADD COLUMN last_report_robot text, ADD COLUMN last_report_ts timestamptz;

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
    IF v_t.state <> 'queued' AND v_t.robot_id IS DISTINCT FROM NEW.robot_id THEN
        RETURN NULL;
    END IF;
    IF v_t.last_report_robot = NEW.robot_id AND NEW.ts <= v_t.last_report_ts THEN
        RETURN NULL;  -- a replayed or reordered report
    END IF;
    UPDATE tasks SET last_report_robot = NEW.robot_id, last_report_ts = NEW.ts WHERE task_id = v_id;
    IF v_state IN (0, 2, 3) THEN
        IF v_t.state = 'queued' THEN
            v_t := task_step(v_t, 'assigned', v_actor, 'reported by the robot', NEW.robot_id, v_t.term);
        END IF;
        IF v_state IN (2, 3) AND v_t.state = 'assigned' THEN
            v_t := task_step(v_t, 'in_progress', v_actor, 'started', NEW.robot_id, v_t.term);
        END IF;
        IF v_state = 3 THEN
            v_t := task_step(v_t, 'done', v_actor, coalesce(nullif(v_why, ''), 'completed'), NEW.robot_id, v_t.term);
        END IF;
    ELSIF v_state IN (1, 4, 6) AND v_t.state IN ('assigned', 'in_progress') THEN
        v_t := task_step(v_t, 'queued', v_actor,
                         'robot ' || NEW.robot_id || ' gave it up: ' || coalesce(nullif(v_why, ''), 'no reason'),
                         NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION apply_task_report() FROM PUBLIC;
