-- W3C trace context through ingest and decisions (docs/device-protocol.md "Trace context", docs/cloud.md).
-- robot_ingest_state.last_traceparent: the trace of the robot's newest durable batch (the cloud's ingest span when
-- tracing is on, else the robot's header as received). A decision joins a trace when it is created: the creator's own
-- (session setting sigma.traceparent) or else the robot's newest batch, i.e. the telemetry it was decided on.
ALTER TABLE robot_ingest_state ADD COLUMN last_traceparent text
    CHECK (last_traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
ALTER TABLE decisions ADD COLUMN traceparent text
    CHECK (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');

-- Runs with the inserting role's rights (not SECURITY DEFINER): a creator that RLS does not let see the robot's
-- ingest state links nothing, and learns nothing.
CREATE FUNCTION decision_trace() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_setting text := nullif(current_setting('sigma.traceparent', true), '');
BEGIN
    IF NEW.traceparent IS NULL THEN
        IF v_setting ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' THEN
            NEW.traceparent := v_setting;
        ELSE
            SELECT s.last_traceparent INTO NEW.traceparent FROM robot_ingest_state s WHERE s.robot_id = NEW.robot_id;
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER decision_trace BEFORE INSERT ON decisions FOR EACH ROW EXECUTE FUNCTION decision_trace();
