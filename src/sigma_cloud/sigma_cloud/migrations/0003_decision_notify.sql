-- Wake long-polling robots when a decision is addressed to them.
CREATE FUNCTION decisions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sigma_decisions', NEW.robot_id);
    RETURN NEW;
END $$;
CREATE TRIGGER decisions_notify AFTER INSERT ON decisions FOR EACH ROW EXECUTE FUNCTION decisions_notify();
