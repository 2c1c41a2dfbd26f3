-- Fleet tasks: a task the cloud took back from a degraded robot stays away from that robot (issue #13; a clean-clone
-- CI run of the main command recorded "r3 -> r3": the cognition worker took r3's task back when it held r3 for a
-- hot motor, and r3's next "in progress" report, stamped 1.4 s AFTER the take-back but before the leader's cancel
-- reached r3, handed the task straight back to r3; 0014's time rule only refuses reports stamped before it).
--
-- The swarm leader keeps such a task away from that robot for its keep-away time (sigma_tasks
-- BoardParams.keep_away_s; the cloud's decision names the robot in `requeued_from`) and neither allocates it to the
-- robot again nor lets the robot's own stale reports re-assign it. The record now does the same:
--   * tasks.taken_from: robot id -> {"term": the highest term the task was held or reported under when the cloud
--     took it back, "until": the end of the keep-away}, written by the take-back (repositories/notifications.py);
--   * an ACCEPTED or ACTIVE report from such a robot, under a term not newer than that one and stamped before
--     "until", comes from the assignment taken back: REFUSED and logged (task_report_refusals) like 0014's;
--   * a report under a newer term is a newer leader's assignment and applies as before (terms only grow; a new
--     leader may have had no word of the take-back);
--   * SUCCEEDED is not refused: if the robot did finish the work before its cancel arrived, the record says so
--     (the tote was delivered; a second robot would find nothing to pick up).
-- A take-back for silence (incident response) writes no keep-away: the leader is not told to keep the task away
-- from a robot that merely fell silent, and that robot's later reports re-assign it as before.

ALTER TABLE tasks ADD COLUMN taken_from jsonb NOT NULL DEFAULT '{}'::jsonb;

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
    v_away   jsonb;
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
    v_away := v_t.taken_from -> NEW.robot_id;
    IF v_away IS NOT NULL AND NOT v_holder AND v_state IN (0, 2) AND v_term <= (v_away ->> 'term')::bigint
            AND NEW.ts < (v_away ->> 'until')::timestamptz THEN
        PERFORM refuse_task_report(v_t, NEW.robot_id, v_state, NEW.ts,
            'taken back from robot ' || NEW.robot_id || ' by the cloud (kept away until ' || (v_away ->> 'until')
            || '): its report under term ' || v_term || ' comes from the assignment taken back (term '
            || (v_away ->> 'term') || ')');
        RETURN NULL;
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
