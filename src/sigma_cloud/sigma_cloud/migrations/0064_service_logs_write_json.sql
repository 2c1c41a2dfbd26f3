-- The cloud's own logs (docs/logs.md): service_logs_write() takes a batch as one JSON array of records instead of
-- eleven parallel arrays. The writer thread serializes a batch with one orjson call; adapting eleven Python lists
-- element by element cost the logging process more CPU than the records themselves (bench/service_log_emit.py).
-- Same guarantees as 0063: SECURITY DEFINER, day partitions made on first use, site_id from the robot's
-- registration (never from the caller), EXECUTE for sigma_log_writer only.
DROP FUNCTION service_logs_write(float8[], text[], text[], smallint[], text[], text[], text[], text[], text[], text[],
                                 jsonb[]);

CREATE FUNCTION service_logs_write(p_rows jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_day date;
    v_n integer;
BEGIN
    IF jsonb_typeof(p_rows) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'service_logs_write takes a JSON array of records' USING ERRCODE = '22023';
    END IF;
    FOR v_day IN SELECT DISTINCT (to_timestamp((r ->> 'ts')::float8) AT TIME ZONE 'UTC')::date
                 FROM jsonb_array_elements(p_rows) AS r LOOP
        PERFORM service_logs_partition(v_day);
    END LOOP;
    INSERT INTO service_logs (ts, service, instance, severity, logger, message, robot_id, site_id, trace_id, span_id,
                              request_id, extra)
    SELECT to_timestamp(u.ts), u.service, u.instance, u.severity, u.logger, u.message, nullif(u.robot_id, ''),
           (SELECT r.site_id FROM robots r WHERE r.robot_id = nullif(u.robot_id, '')), nullif(u.trace_id, ''),
           nullif(u.span_id, ''), nullif(u.request_id, ''), coalesce(u.extra, '{}')
    FROM jsonb_to_recordset(p_rows) AS u(ts float8, service text, instance text, severity smallint, logger text,
                                         message text, robot_id text, trace_id text, span_id text, request_id text,
                                         extra jsonb);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END $$;
REVOKE ALL ON FUNCTION service_logs_write(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION service_logs_write(jsonb) TO sigma_log_writer;
