-- Fleet tasks (docs/tasks.md): the site's map (named places), tasks with their full transition history, and the
-- swarm leader each site's tasks go to. Same security model as 0002: FORCE RLS, per-transaction group roles; devices
-- touch these tables only through the SECURITY DEFINER functions below, which check who is calling.

CREATE TABLE site_places (
    site_id text NOT NULL REFERENCES sites,
    name    text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    kind    text NOT NULL CHECK (kind IN ('dock', 'shelf', 'zone', 'waypoint')),
    x       double precision NOT NULL CHECK (x BETWEEN -1e6 AND 1e6),
    y       double precision NOT NULL CHECK (y BETWEEN -1e6 AND 1e6),
    PRIMARY KEY (site_id, name)
);

CREATE TABLE tasks (
    task_id         uuid PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites,
    kind            text NOT NULL CHECK (kind IN ('deliver', 'go_to', 'charge')),
    pickup          text,
    dropoff         text,
    place           text,
    payload_kg      real NOT NULL DEFAULT 0 CHECK (payload_kg >= 0 AND payload_kg <= 1000),
    priority        smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 10),
    earliest_start  timestamptz NOT NULL DEFAULT now(),
    deadline        timestamptz,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'assigned', 'in_progress', 'done', 'failed', 'cancelled')),
    robot_id        text,
    term            bigint,
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    idempotency_key text,
    request_hash    text,
    UNIQUE (site_id, idempotency_key)
);
CREATE INDEX tasks_site_state ON tasks (site_id, state, created_at);

-- Append-only: every state change with who and why (and the robot and leader term where one is involved).
CREATE TABLE task_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    uuid NOT NULL REFERENCES tasks,
    site_id    text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    reason     text NOT NULL,
    robot_id   text,
    term       bigint
);
CREATE INDEX task_transitions_task ON task_transitions (task_id, id);

-- The site's current swarm leader; a claim with an older term is refused (fencing at the cloud).
CREATE TABLE site_leaders (
    site_id  text PRIMARY KEY REFERENCES sites,
    robot_id text NOT NULL,
    term     bigint NOT NULL,
    since    timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['site_places', 'tasks', 'task_transitions', 'site_leaders'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT TO sigma_site_manager, sigma_operator '
                       'USING (site_id = ANY (sigma_sites()))', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['site_places', 'tasks', 'task_transitions'] LOOP
        EXECUTE format('CREATE POLICY site_write ON %I FOR INSERT TO sigma_site_manager '
                       'WITH CHECK (site_id = ANY (sigma_sites()))', t);
    END LOOP;
END $$;
CREATE POLICY site_update ON tasks FOR UPDATE TO sigma_site_manager
    USING (site_id = ANY (sigma_sites())) WITH CHECK (site_id = ANY (sigma_sites()));
CREATE POLICY site_delete ON site_places FOR DELETE TO sigma_site_manager USING (site_id = ANY (sigma_sites()));

GRANT SELECT, INSERT, DELETE ON site_places TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT, INSERT, UPDATE ON tasks TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT, INSERT ON task_transitions TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT ON site_leaders TO sigma_fleet_admin, sigma_site_manager;
GRANT SELECT ON site_places, tasks, task_transitions, site_leaders TO sigma_operator;

-- One state change of a task, with its history row (owner rights: called from the functions below only).
CREATE FUNCTION task_step(p_task tasks, p_to text, p_actor text, p_reason text, p_robot text, p_term bigint)
RETURNS tasks LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE v tasks;
BEGIN
    UPDATE tasks SET state = p_to, robot_id = p_robot, term = p_term, reason = p_reason, updated_at = now()
    WHERE task_id = p_task.task_id RETURNING * INTO v;
    INSERT INTO task_transitions (task_id, site_id, from_state, to_state, actor, reason, robot_id, term)
    VALUES (p_task.task_id, p_task.site_id, p_task.state, p_to, p_actor, p_reason, p_robot, p_term);
    RETURN v;
END $$;
REVOKE EXECUTE ON FUNCTION task_step(tasks, text, text, text, text, bigint) FROM PUBLIC;

-- A robot's task report (telemetry channel task_status, sigma_interfaces/TaskStatus) moves the cloud's record, in
-- the same transaction as the ingest. The transitions follow sigma_tasks.states.ALLOWED: ACCEPTED/ACTIVE/SUCCEEDED
-- walk queued -> assigned -> in_progress -> done (a new leader may have assigned a task the cloud still had queued);
-- REFUSED/FAILED/PREEMPTED put a task the robot held back in the queue for re-allocation; CANCELED changes nothing
-- (cancelling is the API's decision). Reports about tasks the cloud does not know (robot-local tasks), of another
-- site, for another robot's task, or for a finished task are ignored. Replays never reach here (ingest dedupes).
CREATE FUNCTION apply_task_report() RETURNS trigger
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
CREATE TRIGGER telemetry_task_report AFTER INSERT ON telemetry
    FOR EACH ROW WHEN (NEW.channel = 7) EXECUTE FUNCTION apply_task_report();

-- A robot claims leadership of its site for a term; true when recorded (a newer term, or the same leader again).
CREATE FUNCTION claim_site_leadership(p_robot text, p_term bigint) RETURNS boolean
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
    INSERT INTO site_leaders AS l (site_id, robot_id, term) VALUES (v_site, p_robot, p_term)
    ON CONFLICT (site_id) DO UPDATE SET robot_id = excluded.robot_id, term = excluded.term, since = now()
        WHERE l.term < excluded.term OR (l.term = excluded.term AND l.robot_id = excluded.robot_id)
    RETURNING true INTO v_ok;
    RETURN coalesce(v_ok, false);
END $$;
REVOKE EXECUTE ON FUNCTION claim_site_leadership(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_site_leadership(text, bigint) TO sigma_device;

-- The open tasks of the calling robot's site, for a leader resuming from the cloud's record.
CREATE FUNCTION open_site_tasks(p_robot text) RETURNS SETOF tasks
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_robot IS DISTINCT FROM sigma_robot() THEN
        RAISE EXCEPTION 'robot % may not act as %', sigma_robot(), p_robot USING ERRCODE = '42501';
    END IF;
    RETURN QUERY SELECT t.* FROM tasks t JOIN robots r ON r.site_id = t.site_id
        WHERE r.robot_id = p_robot AND r.status = 'active' AND t.state IN ('queued', 'assigned', 'in_progress')
        ORDER BY t.priority DESC, t.created_at LIMIT 1000;
END $$;
REVOKE EXECUTE ON FUNCTION open_site_tasks(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION open_site_tasks(text) TO sigma_device;
