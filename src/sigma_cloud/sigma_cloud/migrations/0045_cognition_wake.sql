-- Wake the fleet-cognition worker when a robot's telemetry advances (docs/cognition.md "Decision latency"): its
-- claim loops LISTEN on sigma_telemetry instead of polling the cursor table every few tens of milliseconds.
-- One NOTIFY (payload: the robot id) per committed batch, and only while the worker has caught up with that robot
-- (its cursor is at or past the previous head): a worker that is behind claims the robot again by itself right after
-- its current pass, and a site without a worker (no cursor) pays nothing. So the NOTIFY traffic is bounded by what
-- the worker consumes, never by the ingest rate. SECURITY DEFINER: the ingesting device may not read cursors.
CREATE FUNCTION cognition_wake() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cognition_cursor c WHERE c.robot_id = NEW.robot_id AND c.last_seq >= OLD.last_seq) THEN
        PERFORM pg_notify('sigma_telemetry', NEW.robot_id);
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION cognition_wake() FROM PUBLIC;
CREATE TRIGGER cognition_wake AFTER UPDATE OF last_seq ON robot_ingest_state FOR EACH ROW
    WHEN (NEW.last_seq > OLD.last_seq) EXECUTE FUNCTION cognition_wake();
