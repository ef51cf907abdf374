-- The write side refreshes the derived tables (opsmon.derived): the worker listens on channel
-- 'opsmon_refresh', notified (once per transaction, at commit) by every change to what a build
-- depends on — the data version (bumped by every accepted file), the settings (due day, time
-- zone) and the risk thresholds — whoever the writer is.
CREATE FUNCTION opsmon_refresh_wanted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('opsmon_refresh', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER refresh_wanted AFTER INSERT OR UPDATE OR DELETE ON data_state
    FOR EACH STATEMENT EXECUTE FUNCTION opsmon_refresh_wanted();
CREATE TRIGGER refresh_wanted AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION opsmon_refresh_wanted();
CREATE TRIGGER refresh_wanted AFTER INSERT OR UPDATE OR DELETE ON risk_thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION opsmon_refresh_wanted();
