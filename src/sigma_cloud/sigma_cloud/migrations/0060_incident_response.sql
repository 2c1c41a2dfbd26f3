-- Automated incident response (docs/runbooks/robot-silent.md): a robot not heard from for robot_silent_after_s
-- opens a silence episode, its site's managers get a notification, and its open tasks go back to the queue for
-- re-allocation; when it is heard again the episode ends with a second notification. Same security model as 0002.

CREATE TABLE silence_episodes (
    robot_id    text NOT NULL REFERENCES robots,
    site_id     text NOT NULL,
    since       timestamptz NOT NULL,             -- last heard (or registered, if never heard)
    detected_at timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    PRIMARY KEY (robot_id, since)
);
CREATE UNIQUE INDEX silence_episodes_open ON silence_episodes (robot_id) WHERE ended_at IS NULL;

CREATE TABLE notifications (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    text NOT NULL REFERENCES sites,
    robot_id   text,
    kind       text NOT NULL CHECK (kind IN ('robot_silent', 'robot_back')),
    message    text NOT NULL CHECK (length(message) <= 2000),
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_site ON notifications (site_id, id DESC);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['silence_episodes', 'notifications'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT TO sigma_site_manager, sigma_operator '
                       'USING (site_id = ANY (sigma_sites()))', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE ON silence_episodes, notifications TO sigma_fleet_admin;
GRANT SELECT ON silence_episodes, notifications TO sigma_site_manager, sigma_operator;
