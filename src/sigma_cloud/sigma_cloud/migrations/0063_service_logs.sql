-- The cloud's own logs (docs/logs.md "The cloud's own logs"): every cloud process (API workers, cognition worker,
-- migrate, maintenance) writes its structured log records here, beside the robots' records in robot_logs.
-- A sibling table, not robot_logs: a cloud record has no robot stream/seq (exactly-once by sequence is the robot
-- protocol's), often no robot or site at all (a worker starting, a pool error), and says which service and process
-- wrote it. Same rules as robot_logs: day partitions by ts made on first use, dropped after retention_days by the
-- maintenance pass (core/log_retention.py), FORCE RLS on the table and every partition.
-- Who reads: the fleet admin everything; site managers and operators the records about their sites' robots (site_id
-- is filled from the robot at insert); records about no robot (service internals) only the fleet admin.
-- Who writes: the NOLOGIN role sigma_log_writer, through service_logs_write() only (one call per batch; it makes
-- the day partitions and fills site_id). It may not read, update or delete a record.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sigma_log_writer') THEN
        CREATE ROLE sigma_log_writer NOLOGIN;
    END IF;
END $$;
-- The API login role writes the cloud's logs (sigma_cloud.core.db.ensure_roles grants it as well).
DO $$
DECLARE m text;
BEGIN
    FOR m IN SELECT r.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member
             WHERE a.roleid = 'sigma_device'::regrole LOOP
        EXECUTE format('GRANT sigma_log_writer TO %I', m);
    END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO sigma_log_writer;

CREATE TABLE service_logs (
    id          bigserial,
    ts          timestamptz NOT NULL,
    service     text NOT NULL CHECK (length(service) BETWEEN 1 AND 64),
    instance    text NOT NULL CHECK (length(instance) <= 128),
    severity    smallint NOT NULL CHECK (severity IN (10, 20, 30, 40, 50)),
    logger      text NOT NULL CHECK (length(logger) <= 256),
    message     text NOT NULL CHECK (length(message) <= 4096),
    robot_id    text CHECK (length(robot_id) <= 128),
    site_id     text,
    trace_id    text CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id     text CHECK (span_id ~ '^[0-9a-f]{16}$'),
    request_id  text CHECK (length(request_id) <= 64),
    extra       jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
CREATE INDEX service_logs_ts ON service_logs (ts, id);
CREATE INDEX service_logs_robot_ts ON service_logs (robot_id, ts) WHERE robot_id IS NOT NULL;
CREATE INDEX service_logs_trace ON service_logs (trace_id) WHERE trace_id IS NOT NULL;

ALTER TABLE service_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE service_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON service_logs TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_read ON service_logs FOR SELECT TO sigma_fleet_admin USING (true);
CREATE POLICY site_read ON service_logs FOR SELECT TO sigma_site_manager, sigma_operator
    USING (site_id = ANY (sigma_sites()));
GRANT SELECT ON service_logs TO sigma_fleet_admin, sigma_site_manager, sigma_operator;

CREATE FUNCTION service_logs_partition(p_day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_name text := 'service_logs_' || to_char(p_day, 'YYYYMMDD');
BEGIN
    IF to_regclass(v_name) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF service_logs FOR VALUES FROM (%L) TO (%L)', v_name,
                   p_day::timestamp AT TIME ZONE 'UTC', (p_day + 1)::timestamp AT TIME ZONE 'UTC');
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', v_name);
EXCEPTION WHEN duplicate_table THEN
    NULL;  -- another process made it at the same moment
END $$;
REVOKE ALL ON FUNCTION service_logs_partition(date) FROM PUBLIC;

-- One batch of records (parallel arrays, one element per record); returns how many were stored. Runs as the schema
-- owner: the caller needs no privilege on the table. site_id comes from the robot's registration, never the caller.
CREATE FUNCTION service_logs_write(p_ts float8[], p_service text[], p_instance text[], p_severity smallint[],
                                   p_logger text[], p_message text[], p_robot text[], p_trace text[], p_span text[],
                                   p_request text[], p_extra jsonb[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_day date;
    v_n integer;
BEGIN
    FOR v_day IN SELECT DISTINCT (to_timestamp(t) AT TIME ZONE 'UTC')::date FROM unnest(p_ts) AS t LOOP
        PERFORM service_logs_partition(v_day);
    END LOOP;
    INSERT INTO service_logs (ts, service, instance, severity, logger, message, robot_id, site_id, trace_id, span_id,
                              request_id, extra)
    SELECT to_timestamp(u.ts), u.service, u.instance, u.severity, u.logger, u.message, nullif(u.robot, ''),
           (SELECT r.site_id FROM robots r WHERE r.robot_id = nullif(u.robot, '')), nullif(u.trace, ''),
           nullif(u.span, ''), nullif(u.request, ''), coalesce(u.extra, '{}')
    FROM unnest(p_ts, p_service, p_instance, p_severity, p_logger, p_message, p_robot, p_trace, p_span, p_request,
                p_extra) AS u(ts, service, instance, severity, logger, message, robot, trace, span, request, extra);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END $$;
REVOKE ALL ON FUNCTION service_logs_write(float8[], text[], text[], smallint[], text[], text[], text[], text[],
                                          text[], text[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION service_logs_write(float8[], text[], text[], smallint[], text[], text[], text[], text[],
                                             text[], text[], jsonb[]) TO sigma_log_writer;
