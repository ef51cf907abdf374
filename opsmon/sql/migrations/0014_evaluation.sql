-- Evaluation (自评、复核、抽查与评价): score sheets as data, yearly rounds, and every score as an
-- append-only event — the current state of a unit's sheet is derived from its events.

-- A score sheet (评分表): one version per kind and campaign year. Old rounds keep the sheet they used.
CREATE TABLE score_sheets (
    sheet_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('commission', 'hospital')),
    version      text NOT NULL CHECK (version ~ '^[0-9A-Za-z._-]{1,40}$'),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    source_name  text,
    loaded_by    text NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, version)
);

CREATE TABLE score_items (
    sheet_id   integer NOT NULL REFERENCES score_sheets (sheet_id),
    item_code  text NOT NULL CHECK (item_code ~ '^[0-9A-Za-z._-]{1,20}$'),
    position   integer NOT NULL,
    section    text NOT NULL CHECK (btrim(section) <> ''),
    item       text NOT NULL CHECK (btrim(item) <> ''),
    criteria   text NOT NULL CHECK (btrim(criteria) <> ''),
    max_score  numeric(5, 1) NOT NULL CHECK (max_score > 0),
    evidence   text NOT NULL DEFAULT '',
    indicator  text,                    -- a catalogue id whose value proposes the score
    bands      jsonb,                   -- [[threshold, score], …]: the value reaching a threshold earns its score
    PRIMARY KEY (sheet_id, item_code),
    UNIQUE (sheet_id, position),
    CHECK ((indicator IS NULL) = (bands IS NULL))
);

-- A round: one per campaign year.
CREATE TABLE evaluation_rounds (
    year              integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    commission_sheet  integer NOT NULL REFERENCES score_sheets (sheet_id),
    hospital_sheet    integer NOT NULL REFERENCES score_sheets (sheet_id),
    data_period       date NOT NULL CHECK (data_period = date_trunc('month', data_period)),  -- proposals' month
    self_due          date NOT NULL,    -- self-assessment submitted by (China day, inclusive)
    review_due        date NOT NULL,
    check_due         date NOT NULL,
    sample_seed       bigint,           -- the spot check's sample, reproducible from it
    sample_rate       numeric(4, 3),
    sampled_by        text,
    sampled_at        timestamptz,
    published_at      timestamptz,      -- after it every viewer of regions sees every unit's result
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (self_due <= review_due AND review_due <= check_due)
);

-- Who scores themselves in a round: prefecture and county commissions, and the designated hospitals.
CREATE TABLE evaluation_units (
    year        integer NOT NULL REFERENCES evaluation_rounds (year),
    unit_code   text NOT NULL,          -- a region adcode or a hospital code
    kind        text NOT NULL CHECK (kind IN ('commission', 'hospital')),
    stratum     text NOT NULL,          -- the spot check draws within it (region × tier)
    sampled     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (year, unit_code)
);

-- Every step: a score of an item (self, review, check), a submission, a review, a check. Never changed.
CREATE TABLE evaluation_events (
    event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year       integer NOT NULL,
    unit_code  text NOT NULL,
    stage      text NOT NULL CHECK (stage IN ('self', 'review', 'check')),
    action     text NOT NULL CHECK (action IN ('score', 'submit')),
    item_code  text,                    -- NULL for a submission
    score      numeric(5, 1) CHECK (score >= 0),
    note       text CHECK (length(note) <= 4000),
    reason     text CHECK (length(reason) <= 4000),  -- above the data's proposal, or a reviewer's adjustment
    username   text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (year, unit_code) REFERENCES evaluation_units (year, unit_code),
    CHECK ((action = 'score') = (item_code IS NOT NULL AND score IS NOT NULL))
);
CREATE INDEX evaluation_events_unit_idx ON evaluation_events (year, unit_code, stage, event_id);

CREATE FUNCTION evaluation_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evaluation_events is append-only';
END $$;
CREATE TRIGGER evaluation_events_append_only BEFORE UPDATE OR DELETE ON evaluation_events
    FOR EACH ROW EXECUTE FUNCTION evaluation_events_append_only();

-- Evidence (佐证材料) per item, checked by content like a disposal's attachments.
CREATE TABLE evaluation_evidence (
    evidence_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year         integer NOT NULL,
    unit_code    text NOT NULL,
    item_code    text NOT NULL,
    file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    media_type   text NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg',
                 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')),
    size_bytes   integer NOT NULL CHECK (size_bytes > 0),
    sha256       char(64) NOT NULL,
    content      bytea NOT NULL,
    username     text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (year, unit_code) REFERENCES evaluation_units (year, unit_code)
);
CREATE INDEX evaluation_evidence_unit_idx ON evaluation_evidence (year, unit_code, item_code);
