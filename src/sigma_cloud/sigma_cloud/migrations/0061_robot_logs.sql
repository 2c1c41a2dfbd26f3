-- Robot logs (docs/logs.md): each robot's /rosout records, shipped by its bridge in signed batches numbered per
-- stream (one bridge incarnation). robot_logs is range-partitioned by UTC day of the record's stamp; the day
-- partitions are made on first use by robot_logs_partition() (SECURITY DEFINER: the device role creates nothing
-- itself). robot_log_streams keeps each stream's high-water mark (records <= acked_through are stored: a resent batch
-- is stored once) and its cumulative drop counters (the largest value seen: resends never double them).
-- Security as 0002: FORCE RLS; a device inserts only its own robot's records and may not read any; site managers and
-- operators read their sites'; the fleet admin all.
CREATE TABLE robot_logs (
    robot_id    text NOT NULL,
    site_id     text NOT NULL,
    stream      bigint NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    severity    smallint NOT NULL CHECK (severity IN (10, 20, 30, 40, 50)),
    node        text NOT NULL CHECK (length(node) <= 256),
    message     text NOT NULL CHECK (length(message) <= 4096),
    file        text NOT NULL DEFAULT '' CHECK (length(file) <= 512),
    function    text NOT NULL DEFAULT '' CHECK (length(function) <= 256),
    line        integer NOT NULL DEFAULT 0,
    trace_id    text CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
CREATE INDEX robot_logs_robot_ts ON robot_logs (robot_id, ts, stream, seq);
CREATE INDEX robot_logs_trace ON robot_logs (trace_id) WHERE trace_id IS NOT NULL;

CREATE TABLE robot_log_streams (
    robot_id      text NOT NULL REFERENCES robots,
    site_id       text NOT NULL,
    stream        bigint NOT NULL CHECK (stream >= 0),
    acked_through bigint NOT NULL DEFAULT 0,
    records       bigint NOT NULL DEFAULT 0,
    refused       bigint NOT NULL DEFAULT 0,
    dropped       jsonb NOT NULL DEFAULT '{}',
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (robot_id, stream)
);

CREATE FUNCTION robot_logs_partition(p_day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_name text := 'robot_logs_' || to_char(p_day, 'YYYYMMDD');
BEGIN
    IF to_regclass(v_name) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF robot_logs FOR VALUES FROM (%L) TO (%L)', v_name,
                   p_day::timestamp AT TIME ZONE 'UTC', (p_day + 1)::timestamp AT TIME ZONE 'UTC');
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', v_name);
EXCEPTION WHEN duplicate_table THEN
    NULL;  -- another API process made it at the same moment
END $$;
REVOKE ALL ON FUNCTION robot_logs_partition(date) FROM PUBLIC;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['robot_logs', 'robot_log_streams'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY admin_all ON %I TO sigma_fleet_admin USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT TO sigma_site_manager, sigma_operator '
                       'USING (site_id = ANY (sigma_sites()))', t);
    END LOOP;
END $$;
CREATE POLICY device_insert ON robot_logs FOR INSERT TO sigma_device WITH CHECK (robot_id = sigma_robot());
CREATE POLICY device_self ON robot_log_streams TO sigma_device
    USING (robot_id = sigma_robot()) WITH CHECK (robot_id = sigma_robot());

GRANT SELECT ON robot_logs, robot_log_streams TO sigma_fleet_admin, sigma_site_manager, sigma_operator;
GRANT INSERT (robot_id, site_id, stream, seq, ts, severity, node, message, file, function, line, trace_id)
    ON robot_logs TO sigma_device;
GRANT SELECT, INSERT, UPDATE (acked_through, records, refused, dropped, last_seen) ON robot_log_streams TO sigma_device;
GRANT EXECUTE ON FUNCTION robot_logs_partition(date) TO sigma_device;
