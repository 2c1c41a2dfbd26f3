-- Fleet tasks, issue #13 round 4: robots' task reports carry the swarm leader's term of the assignment
-- (sigma_interfaces/TaskStatus.term, the Task's term echoed by sigma_core's executor; the bridge's task_status
-- payload field "term"; 0 = a task no swarm leader assigned). The record now orders reports by term first:
--   * tasks.report_term is the highest term of any report applied to the task;
--   * a report under a lower term (> 0) is REFUSED and logged (task_report_refusals, the server log) whatever its
--     stamp: it comes from an assignment an older leader made, superseded by a newer leader's (terms only grow);
--   * a report under a higher term than any before is a newer assignment: it is not held to the time rule of 0014
--     (a robot's clock may lag; the term says it is newer);
--   * equal terms, or reports without a term (0), fall back to 0014's rules (stamp against held_since, per-robot
--     replay marks), e.g. a hand-over within one leader's term.
-- The term a report carries is recorded with the transitions it causes.

ALTER TABLE tasks ADD COLUMN report_term bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION apply_task_report() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_id     uuid;
    v_state  int := (NEW.payload ->> 'state')::int;
    v_t      tasks;
    v_actor  text := 'robot:' || NEW.robot_id;
    v_why    text := left(coalesce(NEW.payload ->> 'reason', ''), 1024);
    v_holder boolean;
    v_mark   timestamptz;
    v_term   bigint;
BEGIN
    BEGIN
        v_id := (NEW.payload ->> 'task_id')::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN NULL;
    END;
    BEGIN
        v_term := coalesce((NEW.payload ->> 'term')::bigint, 0);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        v_term := 0;
    END;
    SELECT * INTO v_t FROM tasks WHERE task_id = v_id AND site_id = NEW.site_id FOR UPDATE;
    IF NOT FOUND OR v_t.state IN ('done', 'failed', 'cancelled') THEN
        RETURN NULL;
    END IF;
    v_mark := (v_t.report_marks ->> NEW.robot_id)::timestamptz;
    IF v_mark IS NOT NULL AND NEW.ts <= v_mark THEN
        RETURN NULL;  -- a replayed or reordered report of this robot
    END IF;
    v_holder := v_t.state <> 'queued' AND v_t.robot_id IS NOT DISTINCT FROM NEW.robot_id;
    IF NOT v_holder AND v_t.state <> 'queued' AND v_state IN (1, 4, 5, 6) THEN
        RETURN NULL;  -- a robot that does not hold the task lets it go: nothing to move (0013)
    END IF;
    IF v_term > 0 AND v_term < v_t.report_term THEN
        PERFORM refuse_task_report(v_t, NEW.robot_id, v_state, NEW.ts,
            'from an older term: robot ' || NEW.robot_id || ' reports under term ' || v_term
            || ', the task was last reported under term ' || v_t.report_term
            || ' (' || coalesce(v_t.robot_id, 'now queued') || ')');
        RETURN NULL;
    END IF;
    IF NOT v_holder AND v_state IN (0, 2, 3) AND NOT (v_term > 0 AND v_term > v_t.report_term) THEN
        IF v_t.held_since IS NOT NULL AND NEW.ts <= v_t.held_since THEN
            PERFORM refuse_task_report(v_t, NEW.robot_id, v_state, NEW.ts,
                'older than the current assignment: robot ' || NEW.robot_id || ' reported at ' || NEW.ts
                || ', the latest assignment (' || coalesce(v_t.robot_id, 'now queued') || ') started at '
                || v_t.held_since);
            RETURN NULL;
        END IF;
        IF v_state = 2 AND v_t.state <> 'queued' THEN
            PERFORM refuse_task_report(v_t, NEW.robot_id, v_state, NEW.ts,
                'progress from robot ' || NEW.robot_id || ', which does not hold the task (' || v_t.robot_id
                || ' does)');
            RETURN NULL;
        END IF;
    END IF;
    UPDATE tasks SET report_marks = report_marks || jsonb_build_object(NEW.robot_id, NEW.ts),
                     report_term = greatest(report_term, v_term)
    WHERE task_id = v_id RETURNING * INTO v_t;
    IF v_state IN (0, 2, 3) THEN
        IF NOT v_holder THEN
            IF v_t.state <> 'queued' THEN
                v_t := task_step(v_t, 'queued', 'leader',
                                 're-assigned by the swarm leader: robot ' || NEW.robot_id || ' reports it, not '
                                 || coalesce(v_t.robot_id, 'nobody'), NULL, NULL);
            END IF;
            v_t := task_step(v_t, 'assigned', v_actor, 'reported by the robot', NEW.robot_id,
                             coalesce(nullif(v_term, 0), v_t.term));
            UPDATE tasks SET held_since = NEW.ts WHERE task_id = v_id RETURNING * INTO v_t;
        END IF;
        IF v_state IN (2, 3) AND v_t.state = 'assigned' THEN
            v_t := task_step(v_t, 'in_progress', v_actor, 'started', NEW.robot_id,
                             coalesce(nullif(v_term, 0), v_t.term));
        END IF;
        IF v_state = 3 THEN
            v_t := task_step(v_t, 'done', v_actor, coalesce(nullif(v_why, ''), 'completed'), NEW.robot_id,
                             coalesce(nullif(v_term, 0), v_t.term));
        END IF;
    ELSIF v_state IN (1, 4, 5, 6) AND v_holder THEN
        v_t := task_step(v_t, 'queued', v_actor,
                         'robot ' || NEW.robot_id || CASE WHEN v_state = 5 THEN ' let it go: ' ELSE ' gave it up: ' END
                         || coalesce(nullif(v_why, ''), 'no reason'), NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION apply_task_report() FROM PUBLIC;
