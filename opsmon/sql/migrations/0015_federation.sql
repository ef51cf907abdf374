-- Federation: provincial instances replicate their source rows to a national one
-- (PostgreSQL logical replication; opsmon.federation, docs/scaling.md "Option A").
--
-- Everything below acts only on rows applied by logical replication: the triggers are
-- ENABLE REPLICA, so they fire in the subscription's apply (and initial copy) workers,
-- which run with session_replication_role = replica, and never on a province's own
-- ingest. On a provincial instance they are inert.

-- The provinces a national instance subscribes to (one subscription each).
CREATE TABLE federation_sources (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    province      char(6) NOT NULL UNIQUE CHECK (province ~ '^[1-9][0-9]0000$'),
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    last_arrival  timestamptz  -- when rows of this province were last applied here
);

-- A province's submission ids live in its own range, left(province, 2) × 10^12
-- (set by `opsmon federation publish`), so they never collide nationally.
CREATE FUNCTION federation_range_province(id bigint) RETURNS char(6)
LANGUAGE sql IMMUTABLE AS $$ SELECT CAST(CAST(id / 1000000000000 AS text) || '0000' AS char(6)) $$;

-- The guard, before a replicated row is written: it must belong to a subscribed province,
-- and (the apply workers do not check foreign keys) name a county the nation knows.
-- The apply workers run with an empty search_path: the functions keep the migration's.
CREATE FUNCTION federation_guard() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    prov char(6);
    other char(6);
    ident text;
BEGIN
    IF TG_TABLE_NAME = 'hospitals' THEN
        prov := CAST(left(NEW.adcode, 2) || '0000' AS char(6));
        IF NOT EXISTS (SELECT 1 FROM regions WHERE adcode = NEW.adcode AND level = 'county') THEN
            RAISE EXCEPTION 'federation: hospital % names adcode %, not a county of the national regions',
                NEW.hospital_code, NEW.adcode;
        END IF;
        IF TG_OP = 'INSERT' THEN
            SELECT CAST(left(adcode, 2) || '0000' AS char(6)) INTO other
            FROM hospitals WHERE hospital_code = NEW.hospital_code;
            IF FOUND THEN
                RAISE EXCEPTION 'federation: hospital % arrives from province % but is already registered under %',
                    NEW.hospital_code, prov, other;
            END IF;
        END IF;
        ident := 'hospital ' || NEW.hospital_code;
    ELSE
        prov := federation_range_province(NEW.submission_id);
        ident := 'submission ' || NEW.submission_id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM federation_sources WHERE province = prov) THEN
        RAISE EXCEPTION 'federation: a % row (%) arrived, but no subscription is for %',
            TG_TABLE_NAME, ident, prov;
    END IF;
    IF TG_TABLE_NAME = 'submissions' THEN  -- (nested: PL/pgSQL would resolve NEW.status on any table)
        IF NEW.status = 'rejected' AND jsonb_array_length(NEW.errors) = 0 THEN
            -- A file's errors quote its rows and stay in the province; the CHECK wants some.
            NEW.errors := '[{"code": "kept_in_province"}]';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- After a replicated row is written: what ingest's bump_data_version does for an upload
-- (caches and the lazy refresh key on the data version), once per applied transaction.
-- Submission ids of different provinces do not arrive in id order, so the refresh's
-- watermark (submissions up to this id are included) cannot say what is new: it is
-- cleared, and the next refresh rebuilds in full. The refreshes' advisory lock is taken
-- first, so a refresh running now finishes before the version moves, never around it.
CREATE FUNCTION federation_arrived() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    prov char(6);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM data_state WHERE changed_at = now()) THEN
        PERFORM pg_advisory_xact_lock(122528763572079);  -- opsmon.indicators.aggregate.LOCK_KEY
        UPDATE data_state SET version = version + 1, changed_at = now();
        UPDATE indicator_state SET watermark = NULL WHERE watermark IS NOT NULL;
        PERFORM pg_notify('opsmon_federation', TG_TABLE_NAME);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'hospitals' THEN
        prov := CAST(left(NEW.adcode, 2) || '0000' AS char(6));
    ELSE
        prov := federation_range_province(NEW.submission_id);
    END IF;
    UPDATE federation_sources SET last_arrival = now()
    WHERE province = prov AND last_arrival IS DISTINCT FROM now();
    RETURN NULL;
END $$;

CREATE TRIGGER federation_guard BEFORE INSERT OR UPDATE ON hospitals
    FOR EACH ROW EXECUTE FUNCTION federation_guard();
CREATE TRIGGER federation_guard BEFORE INSERT OR UPDATE ON submissions
    FOR EACH ROW EXECUTE FUNCTION federation_guard();
CREATE TRIGGER federation_guard BEFORE INSERT OR UPDATE ON monthly_values
    FOR EACH ROW EXECUTE FUNCTION federation_guard();
CREATE TRIGGER federation_guard BEFORE INSERT OR UPDATE ON progress_values
    FOR EACH ROW EXECUTE FUNCTION federation_guard();
CREATE TRIGGER federation_arrived AFTER INSERT OR UPDATE OR DELETE ON hospitals
    FOR EACH ROW EXECUTE FUNCTION federation_arrived();
CREATE TRIGGER federation_arrived AFTER INSERT OR UPDATE OR DELETE ON submissions
    FOR EACH ROW EXECUTE FUNCTION federation_arrived();
CREATE TRIGGER federation_arrived AFTER INSERT OR UPDATE OR DELETE ON monthly_values
    FOR EACH ROW EXECUTE FUNCTION federation_arrived();
CREATE TRIGGER federation_arrived AFTER INSERT OR UPDATE OR DELETE ON progress_values
    FOR EACH ROW EXECUTE FUNCTION federation_arrived();

ALTER TABLE hospitals ENABLE REPLICA TRIGGER federation_guard;
ALTER TABLE submissions ENABLE REPLICA TRIGGER federation_guard;
ALTER TABLE monthly_values ENABLE REPLICA TRIGGER federation_guard;
ALTER TABLE progress_values ENABLE REPLICA TRIGGER federation_guard;
ALTER TABLE hospitals ENABLE REPLICA TRIGGER federation_arrived;
ALTER TABLE submissions ENABLE REPLICA TRIGGER federation_arrived;
ALTER TABLE monthly_values ENABLE REPLICA TRIGGER federation_arrived;
ALTER TABLE progress_values ENABLE REPLICA TRIGGER federation_arrived;
