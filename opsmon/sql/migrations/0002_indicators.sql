-- 0002 — indicators: refresh bookkeeping for the materialised aggregates, the
-- national targets the spec names, per-province risk thresholds, and the risk
-- register.
--
-- The aggregate tables themselves (ind_month, ind_span) are built by
-- opsmon.indicators.aggregate.refresh() from the field list in
-- opsmon/ingest/fields.py, so they follow the spec's fields without a migration;
-- they hold nothing that cannot be rebuilt from monthly_values/progress_values.

-- Monthly reports are due by this day of the following month (local time).
INSERT INTO settings (key, value) VALUES ('due_day', '10') ON CONFLICT (key) DO NOTHING;

-- What each derived table was last built from (data version, settings, SQL),
-- so a refresh with nothing changed is one lookup.
CREATE TABLE indicator_state (
    name         text PRIMARY KEY,
    source_key   text NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    seconds      double precision
);

-- National 100 % targets the spec names with a national source. Others the spec
-- lists as 100 % (committee, caliber mapping) have no national source or date, and
-- the pilot and risk-register requirements are 吉林's (吉卫联发〔2022〕19号): a
-- province adds those with its own scope_adcode.
--  * process_target_share: same document and horizon as the platform target.
--  * chief_accountant_share: a standing requirement scored every year by 国考
--    (三级 43); due at the end of 2025, the first year-end of the 132号 plan.
INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source) VALUES
    ('process_target_share', NULL, NULL, 1.0, '2027-12-01', '国卫财务函〔2024〕132号'),
    ('chief_accountant_share', NULL, '三级', 1.0, '2025-12-01', '国考 三级43（国办发〔2019〕4号）')
ON CONFLICT DO NOTHING;

-- Risk thresholds: the defaults live with the rules (opsmon/indicators/risk_rules.py);
-- a row here overrides one rule level for this database's province, adds a level,
-- or (enabled = false) switches a level off.
CREATE TABLE risk_thresholds (
    rule       text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]*$'),
    level      text NOT NULL CHECK (level IN ('yellow', 'orange', 'red')),
    threshold  numeric,
    enabled    boolean NOT NULL DEFAULT true,
    note       text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, level),
    CHECK (threshold IS NOT NULL OR NOT enabled)
);

-- Every (hospital, month, rule) that fired, with its level and the metric's value.
-- Rebuilt wholesale from the data by risk.refresh_register(); no foreign key, as
-- its rows come from hospitals' own rows and a per-row check would double the rebuild.
CREATE TABLE risk_firings (
    hospital_code char(18) NOT NULL,
    period        date NOT NULL CHECK (period = date_trunc('month', period)),
    rule          text NOT NULL,
    level         text NOT NULL CHECK (level IN ('yellow', 'orange', 'red')),
    metric        numeric,
    PRIMARY KEY (hospital_code, rule, period)
);
CREATE INDEX risk_firings_period_idx ON risk_firings (period);

-- The register: one row per episode — a run of assessed months in which a rule
-- fired for a hospital. A month the hospital was not assessed (it did not report)
-- neither extends nor ends an episode; the first assessed month without a firing
-- resolves it. A risk that fires again later opens a new episode (a new row), so
-- the history of a re-opened risk stays readable.
CREATE TABLE risk_register (
    episode_id      bigserial PRIMARY KEY,
    hospital_code   char(18) NOT NULL REFERENCES hospitals (hospital_code),
    rule            text NOT NULL,
    first_period    date NOT NULL,
    last_period     date NOT NULL,
    level           text NOT NULL CHECK (level IN ('yellow', 'orange', 'red')),  -- at last_period
    max_level       text NOT NULL CHECK (max_level IN ('yellow', 'orange', 'red')),
    metric          numeric,  -- at last_period
    months_firing   integer NOT NULL CHECK (months_firing >= 1),
    resolved_period date,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (hospital_code, rule, first_period),
    CHECK (last_period >= first_period),
    CHECK (resolved_period IS NULL OR resolved_period > last_period)
);
CREATE UNIQUE INDEX risk_register_open_uq ON risk_register (hospital_code, rule) WHERE resolved_period IS NULL;
CREATE INDEX risk_register_first_idx ON risk_register (first_period);
CREATE INDEX risk_register_resolved_idx ON risk_register (resolved_period);
