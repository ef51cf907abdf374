-- Risk disposal (风险处置与整改闭环): one record per (hospital, rule) — a risk that fires again after
-- its record was closed reopens the same record, so its history stays with it. Orange and red
-- episodes get a record by themselves (opsmon.disposal.records.sync).
CREATE TABLE risk_disposals (
    disposal_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_code   char(18) NOT NULL REFERENCES hospitals (hospital_code),
    rule            text NOT NULL,
    first_period    date NOT NULL,        -- the first month of the episode the record is about now
    level           text NOT NULL CHECK (level IN ('yellow', 'orange', 'red')),  -- the highest seen
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'assigned', 'responded', 'returned', 'closed')),
    request         text CHECK (request IN ('说明', '整改方案', '整改结果')),
    due_on          date,                 -- the hospital's deadline (overdue: past it while assigned/returned)
    escalated       boolean NOT NULL DEFAULT false,  -- 督办: the province acts on it
    verdict         text CHECK (verdict IN ('已整改', '持续跟踪', '合理解释')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    assigned_at     timestamptz,          -- the first assignment (figures: within 5 working days)
    responded_at    timestamptz,          -- the latest answer
    closed_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (hospital_code, rule),
    CHECK (state <> 'closed' OR verdict IS NOT NULL),
    CHECK (state NOT IN ('assigned', 'returned') OR due_on IS NOT NULL)
);
CREATE INDEX risk_disposals_state_idx ON risk_disposals (state, due_on);

-- Every step, kept: who, when, what they wrote. Never updated or deleted (the trigger refuses).
CREATE TABLE risk_disposal_events (
    event_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    disposal_id   bigint NOT NULL REFERENCES risk_disposals (disposal_id),
    at            timestamptz NOT NULL DEFAULT now(),
    username      text,                   -- NULL: the system (created, data resolved, fired again)
    action        text NOT NULL CHECK (action IN ('create', 'assign', 'respond', 'return', 'close', 'reopen',
                                                  'escalate')),
    from_state    text,
    to_state      text NOT NULL,
    note          text CHECK (length(note) <= 4000),
    fields        jsonb NOT NULL DEFAULT '{}'  -- request, due_on, cause, measures, expected_on, verdict
);
CREATE INDEX risk_disposal_events_disposal_idx ON risk_disposal_events (disposal_id, event_id);

CREATE FUNCTION risk_disposal_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'risk_disposal_events is append-only';
END $$;
CREATE TRIGGER risk_disposal_events_append_only BEFORE UPDATE OR DELETE ON risk_disposal_events
    FOR EACH ROW EXECUTE FUNCTION risk_disposal_events_append_only();

-- A hospital's answer may carry files (PDF, XLSX, images), checked by content, kept here.
CREATE TABLE risk_disposal_attachments (
    attachment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES risk_disposal_events (event_id),
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    media_type    text NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg',
                  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')),
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    sha256        char(64) NOT NULL,
    content       bytea NOT NULL
);
CREATE INDEX risk_disposal_attachments_event_idx ON risk_disposal_attachments (event_id);
