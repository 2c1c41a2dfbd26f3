-- Fleet tasks, issue #13 round 3: the cloud's record is monotonic under the leader's fencing.
-- A robot that no longer holds a task (the old holder after a hand-over) could move the record back: its late
-- ACCEPTED / ACTIVE / SUCCEEDED, uploaded after the new holder's (a partition healing, a restarted bridge re-sending
-- its transient-local history), counted as a takeover, because 0012 only remembered the LAST reporting robot.
--
-- The fencing token the cloud can check is the assignment's start time: robots' clocks are synchronised (the
-- leases are absolute wall-clock times, docs/tasks.md), and under the Raft timing assumption a deposed leader stops
-- assigning before a new one starts, so an assignment that starts later supersedes every earlier one, whatever
-- leader or term made it. (TaskStatus carries no term; the executor's own term fence refuses an older leader's
-- Task at the robot.) Rules, per report from robot R with its stamp ts:
--   * per robot and task, reports apply in the robot's own order: ts not newer than the last report applied from R
--     for this task is a replay or a reordering and changes nothing (silently, as in 0012, now for every robot);
--   * `held_since` is the stamp of the report that started the latest holding (queued -> assigned, or a takeover);
--     a report from a robot that does not hold the task, with ts not newer than held_since, comes from an older
--     assignment: it is REFUSED, logged in task_report_refusals (and the server log) and changes nothing;
--   * otherwise as in 0013: ACCEPTED/SUCCEEDED from another robot takes the task over (re-queued with the reason,
--     then assigned ...); ACTIVE from a non-holder of a held task is refused and logged too.
-- Ingest refuses no batch for this (a 409 on the batch would make the bridge's store-and-forward uplink retry it
-- forever, holding back every later event): the refusal is per report, readable in the task's detail.

ALTER TABLE tasks DROP COLUMN last_report_robot, DROP COLUMN last_report_ts,
    ADD COLUMN held_since timestamptz,
    ADD COLUMN report_marks jsonb NOT NULL DEFAULT '{}'::jsonb;  -- robot id -> stamp of its last applied report

-- Reports that would have moved a task back to an older assignment (append-only, like task_transitions).
CREATE TABLE task_report_refusals (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id   uuid NOT NULL REFERENCES tasks,
    site_id   text NOT NULL,
    robot_id  text NOT NULL,
    state     smallint NOT NULL,
    report_ts timestamptz NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason    text NOT NULL
);
CREATE INDEX task_report_refusals_task ON task_report_refusals (task_id, id);
ALTER TABLE task_report_refusals ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_report_refusals FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON task_report_refusals TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_read ON task_report_refusals FOR SELECT TO sigma_fleet_admin USING (true);
CREATE POLICY site_read ON task_report_refusals FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
GRANT SELECT ON task_report_refusals TO sigma_fleet_admin, sigma_site_manager, sigma_operator;

CREATE FUNCTION refuse_task_report(p_task tasks, p_robot text, p_state int, p_ts timestamptz, p_why text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO task_report_refusals (task_id, site_id, robot_id, state, report_ts, reason)
    VALUES (p_task.task_id, p_task.site_id, p_robot, p_state, p_ts, p_why);
    RAISE LOG 'task % report refused: robot % state % at %: %', p_task.task_id, p_robot, p_state, p_ts, p_why;
END $$;
REVOKE EXECUTE ON FUNCTION refuse_task_report(tasks, text, int, timestamptz, text) FROM PUBLIC;

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
    v_mark := (v_t.report_marks ->> NEW.robot_id)::timestamptz;
    IF v_mark IS NOT NULL AND NEW.ts <= v_mark THEN
        RETURN NULL;  -- a replayed or reordered report of this robot
    END IF;
    v_holder := v_t.state <> 'queued' AND v_t.robot_id IS NOT DISTINCT FROM NEW.robot_id;
    IF NOT v_holder AND v_t.state <> 'queued' AND v_state IN (1, 4, 5, 6) THEN
        RETURN NULL;  -- a robot that does not hold the task lets it go: nothing to move (0013)
    END IF;
    IF NOT v_holder AND v_state IN (0, 2, 3) THEN
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
    UPDATE tasks SET report_marks = report_marks || jsonb_build_object(NEW.robot_id, NEW.ts)
    WHERE task_id = v_id RETURNING * INTO v_t;
    IF v_state IN (0, 2, 3) THEN
        IF NOT v_holder THEN
            IF v_t.state <> 'queued' THEN
                v_t := task_step(v_t, 'queued', 'leader',
                                 're-assigned by the swarm leader: robot ' || NEW.robot_id || ' reports it, not '
                                 || coalesce(v_t.robot_id, 'nobody'), NULL, NULL);
            END IF;
            v_t := task_step(v_t, 'assigned', v_actor, 'reported by the robot', NEW.robot_id, v_t.term);
            UPDATE tasks SET held_since = NEW.ts WHERE task_id = v_id RETURNING * INTO v_t;
        END IF;
        IF v_state IN (2, 3) AND v_t.state = 'assigned' THEN
            v_t := task_step(v_t, 'in_progress', v_actor, 'started', NEW.robot_id, v_t.term);
        END IF;
        IF v_state = 3 THEN
            v_t := task_step(v_t, 'done', v_actor, coalesce(nullif(v_why, ''), 'completed'), NEW.robot_id, v_t.term);
        END IF;
    ELSIF v_state IN (1, 4, 5, 6) AND v_holder THEN
        v_t := task_step(v_t, 'queued', v_actor,
                         'robot ' || NEW.robot_id || CASE WHEN v_state = 5 THEN ' let it go: ' ELSE ' gave it up: ' END
                         || coalesce(nullif(v_why, ''), 'no reason'), NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION apply_task_report() FROM PUBLIC;
