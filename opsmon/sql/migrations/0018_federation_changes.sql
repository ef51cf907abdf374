-- An incremental refresh on a national instance: which hospitals each replicated transaction touched.
--
-- Until now every arrival cleared the refresh watermark (submission ids of different provinces
-- do not arrive in id order), so the next refresh rebuilt the national tables in full — minutes
-- nationally for one hospital's revision. federation_arrived() takes the refreshes' advisory lock
-- before it bumps the data version, and holds it to its commit: applied transactions and
-- refreshes run one at a time, so a refresh (which holds the lock) has seen every transaction
-- numbered up to the data version it reads and none above. On a national instance that version is
-- the watermark (opsmon.indicators.aggregate.watermark), and the hospitals to rebuild are those
-- queued here above it. A hospital's registry row changes the registry digest the incremental
-- refresh checks (a full rebuild), so only value rows are queued; the refresh forgets what every
-- derived table has included.
CREATE TABLE federation_changes (
    version       bigint   NOT NULL,  -- data_state.version of the applied transaction
    hospital_code char(18) NOT NULL,
    PRIMARY KEY (version, hospital_code)
);

CREATE OR REPLACE FUNCTION federation_arrived() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    prov char(6);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM data_state WHERE changed_at = now()) THEN
        PERFORM pg_advisory_xact_lock(122528763572079);  -- opsmon.indicators.aggregate.LOCK_KEY
        UPDATE data_state SET version = version + 1, changed_at = now();
        PERFORM pg_notify('opsmon_federation', TG_TABLE_NAME);
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF TG_TABLE_NAME IN ('monthly_values', 'progress_values') THEN
            INSERT INTO federation_changes (version, hospital_code)
            SELECT version, OLD.hospital_code FROM data_state ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME IN ('monthly_values', 'progress_values') THEN
        INSERT INTO federation_changes (version, hospital_code)
        SELECT version, NEW.hospital_code FROM data_state ON CONFLICT DO NOTHING;
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

-- Watermarks recorded before this migration count submission ids: the next refresh rebuilds in full.
UPDATE indicator_state SET watermark = NULL WHERE EXISTS (SELECT 1 FROM federation_sources);
