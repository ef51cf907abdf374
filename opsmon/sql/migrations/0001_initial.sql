-- 0001 — the initial schema: regions, hospitals, submissions, value tables with
-- revisions, period locks, targets, users, audit log, settings.
-- Invariants live here, in the database: keys, foreign keys, CHECKs and the
-- "one current revision per hospital and period" partial unique indexes.
-- Periods are stored as the first day of the month (a date), shown as YYYY-MM.

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Bumped by every accepted submission; caches key on it.
CREATE TABLE data_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO data_state DEFAULT VALUES;

-- GB/T 2260 divisions. parent_adcode is the unit a division reports to;
-- geo_parent_adcode is the prefecture whose territory contains it. They differ
-- for county-level cities the province administers directly (吉林 梅河口市).
CREATE TABLE regions (
    adcode            char(6) PRIMARY KEY CHECK (adcode ~ '^[1-9][0-9]{5}$'),
    name              text NOT NULL CHECK (btrim(name) <> ''),
    level             text NOT NULL CHECK (level IN ('province', 'prefecture', 'county')),
    parent_adcode     char(6) REFERENCES regions (adcode),
    geo_parent_adcode char(6) REFERENCES regions (adcode),
    UNIQUE (adcode, level),
    CHECK ((level = 'province') = (parent_adcode IS NULL)),
    CHECK (parent_adcode IS DISTINCT FROM adcode)
);
CREATE INDEX regions_parent_idx ON regions (parent_adcode);

CREATE TABLE hospitals (
    hospital_code      char(18) PRIMARY KEY
                       CHECK (hospital_code ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'),
    name               text NOT NULL CHECK (btrim(name) <> ''),
    adcode             char(6) NOT NULL,
    -- Always 'county': with the composite key it makes the database refuse a
    -- hospital placed in a prefecture or province.
    region_level       text NOT NULL DEFAULT 'county' CHECK (region_level = 'county'),
    level              text NOT NULL CHECK (level IN ('三级甲等', '三级乙等', '三级', '二级甲等',
                                                      '二级乙等', '二级', '一级', '未定级')),
    tier               text GENERATED ALWAYS AS (
                           CASE WHEN level LIKE '三级%' THEN '三级'
                                WHEN level LIKE '二级%' THEN '二级'
                                WHEN level = '一级' THEN '一级'
                                ELSE '未定级' END) STORED,
    category           text NOT NULL CHECK (category IN ('综合医院', '中医医院', '中西医结合医院',
                                                         '民族医医院', '专科医院', '妇幼保健院')),
    affiliation        text NOT NULL CHECK (affiliation IN ('省属', '市属', '县属')),
    authority          text NOT NULL CHECK (authority IN ('卫生健康委', '中医药局')),
    is_pilot           boolean NOT NULL DEFAULT false,
    is_budget_managed  boolean NOT NULL DEFAULT false,
    alliance_lead_code char(18) REFERENCES hospitals (hospital_code),
    opened_period      date CHECK (opened_period = date_trunc('month', opened_period)),
    closed_period      date CHECK (closed_period = date_trunc('month', closed_period)),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (adcode, region_level) REFERENCES regions (adcode, level),
    CHECK (alliance_lead_code IS DISTINCT FROM hospital_code),
    CHECK (closed_period IS NULL OR opened_period IS NULL OR closed_period >= opened_period)
);
CREATE INDEX hospitals_adcode_idx ON hospitals (adcode);

CREATE TABLE users (
    username       text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name   text,
    role           text NOT NULL CHECK (role IN ('admin', 'leader', 'analyst', 'supervisor', 'hospital')),
    region_adcode  char(6) REFERENCES regions (adcode),
    hospital_code  char(18) REFERENCES hospitals (hospital_code),
    password_hash  text NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- One org unit each: a region, or (for hospital users only) a hospital.
    CHECK ((region_adcode IS NULL) <> (hospital_code IS NULL)),
    CHECK ((role = 'hospital') = (hospital_code IS NOT NULL))
);

-- One row per file attempt, whatever its fate. 'processing' is written and
-- committed before the load starts, so a load killed half-way leaves a trace.
CREATE TABLE submissions (
    submission_id     bigserial PRIMARY KEY,
    kind              text CHECK (kind IN ('monthly', 'progress', 'registry')),
    username          text NOT NULL,
    file_name         text NOT NULL,
    sha256            char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
    received_at       timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    status            text NOT NULL CHECK (status IN ('processing', 'accepted', 'unchanged',
                                                      'rejected', 'failed')),
    rows_total        integer CHECK (rows_total >= 0),
    rows_accepted     integer CHECK (rows_accepted >= 0),
    revisions_created integer CHECK (revisions_created >= 0),
    errors            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array'),
    warnings          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(warnings) = 'array'),
    CHECK (status <> 'rejected' OR jsonb_array_length(errors) > 0),
    CHECK (status <> 'accepted' OR jsonb_array_length(errors) = 0)
);
CREATE INDEX submissions_received_idx ON submissions (received_at DESC);

-- Monthly report values: flows are the month's own amount, stocks the month-end
-- balance. Money is numeric(18,2) yuan. A row is one revision of (hospital, period).
CREATE TABLE monthly_values (
    hospital_code          char(18) NOT NULL REFERENCES hospitals (hospital_code),
    period                 date NOT NULL CHECK (period = date_trunc('month', period)),
    revision               integer NOT NULL CHECK (revision >= 1),
    submission_id          bigint NOT NULL REFERENCES submissions (submission_id),
    is_current             boolean NOT NULL,
    total_revenue          numeric(18,2) NOT NULL CHECK (total_revenue >= 0),
    medical_revenue        numeric(18,2) NOT NULL CHECK (medical_revenue >= 0),
    outpatient_revenue     numeric(18,2) NOT NULL CHECK (outpatient_revenue >= 0),
    inpatient_revenue      numeric(18,2) NOT NULL CHECK (inpatient_revenue >= 0),
    drug_revenue           numeric(18,2) NOT NULL CHECK (drug_revenue >= 0),
    consumables_revenue    numeric(18,2) NOT NULL CHECK (consumables_revenue >= 0),
    exam_revenue           numeric(18,2) NOT NULL CHECK (exam_revenue >= 0),
    lab_revenue            numeric(18,2) NOT NULL CHECK (lab_revenue >= 0),
    fiscal_subsidy_revenue numeric(18,2) NOT NULL CHECK (fiscal_subsidy_revenue >= 0),
    other_revenue          numeric(18,2) NOT NULL CHECK (other_revenue >= 0),
    total_expense          numeric(18,2) NOT NULL CHECK (total_expense >= 0),
    business_expense       numeric(18,2) NOT NULL CHECK (business_expense >= 0),
    admin_expense          numeric(18,2) NOT NULL CHECK (admin_expense >= 0),
    other_expense          numeric(18,2) NOT NULL CHECK (other_expense >= 0),
    personnel_expense      numeric(18,2) NOT NULL CHECK (personnel_expense >= 0),
    drug_expense           numeric(18,2) CHECK (drug_expense >= 0),
    consumables_expense    numeric(18,2) CHECK (consumables_expense >= 0),
    depreciation_expense   numeric(18,2) CHECK (depreciation_expense >= 0),
    energy_expense         numeric(18,2) NOT NULL CHECK (energy_expense >= 0),
    total_assets           numeric(18,2) NOT NULL CHECK (total_assets >= 0),
    current_assets         numeric(18,2) NOT NULL CHECK (current_assets >= 0),
    cash                   numeric(18,2) NOT NULL CHECK (cash >= 0),
    total_liabilities      numeric(18,2) NOT NULL CHECK (total_liabilities >= 0),
    current_liabilities    numeric(18,2) NOT NULL CHECK (current_liabilities >= 0),
    long_term_loans        numeric(18,2) NOT NULL CHECK (long_term_loans >= 0),
    construction_debt      numeric(18,2) NOT NULL CHECK (construction_debt >= 0),
    salary_arrears         numeric(18,2) NOT NULL CHECK (salary_arrears >= 0),
    outpatient_visits      integer NOT NULL CHECK (outpatient_visits >= 0),
    discharges             integer NOT NULL CHECK (discharges >= 0),
    inpatient_bed_days     integer NOT NULL CHECK (inpatient_bed_days >= 0),
    open_beds              integer NOT NULL CHECK (open_beds >= 0),
    doctors                integer NOT NULL CHECK (doctors >= 0),
    nurses                 integer NOT NULL CHECK (nurses >= 0),
    created_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hospital_code, period, revision),
    -- The spec's accounting identities, tolerance 1 元.
    CONSTRAINT medical_revenue_identity
        CHECK (abs(medical_revenue - outpatient_revenue - inpatient_revenue) <= 1),
    CONSTRAINT total_revenue_identity
        CHECK (abs(total_revenue - medical_revenue - fiscal_subsidy_revenue - other_revenue) <= 1),
    CONSTRAINT revenue_breakdown_bound
        CHECK (drug_revenue + consumables_revenue + exam_revenue + lab_revenue <= medical_revenue + 1),
    CONSTRAINT total_expense_identity
        CHECK (abs(total_expense - business_expense - admin_expense - other_expense) <= 1),
    CONSTRAINT personnel_expense_bound
        CHECK (personnel_expense <= business_expense + admin_expense + 1),
    CONSTRAINT asset_order
        CHECK (cash <= current_assets + 1 AND current_assets <= total_assets + 1),
    CONSTRAINT liability_order
        CHECK (current_liabilities <= total_liabilities + 1 AND long_term_loans <= total_liabilities + 1)
);
CREATE UNIQUE INDEX monthly_values_current_uq
    ON monthly_values (hospital_code, period) WHERE is_current;
CREATE INDEX monthly_values_period_idx ON monthly_values (period) WHERE is_current;
CREATE INDEX monthly_values_submission_idx ON monthly_values (submission_id);

-- Operations-management progress reports; the latest row on or before a period
-- is the hospital's status for that period.
CREATE TABLE progress_values (
    hospital_code           char(18) NOT NULL REFERENCES hospitals (hospital_code),
    period                  date NOT NULL CHECK (period = date_trunc('month', period)),
    revision                integer NOT NULL CHECK (revision >= 1),
    submission_id           bigint NOT NULL REFERENCES submissions (submission_id),
    is_current              boolean NOT NULL,
    ops_committee           boolean NOT NULL,
    ops_department          boolean NOT NULL,
    chief_accountant        boolean NOT NULL,
    ops_platform_status     text NOT NULL
                            CHECK (ops_platform_status IN ('not_started', 'building', 'built', 'in_use')),
    pilot_projects_year     integer NOT NULL CHECK (pilot_projects_year >= 0),
    optimized_processes     integer NOT NULL CHECK (optimized_processes >= 0),
    caliber_mapping         text NOT NULL CHECK (caliber_mapping IN ('not_started', 'in_progress', 'done')),
    risk_register           boolean NOT NULL,
    internal_control_review boolean NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hospital_code, period, revision)
);
CREATE UNIQUE INDEX progress_values_current_uq
    ON progress_values (hospital_code, period) WHERE is_current;
CREATE INDEX progress_values_submission_idx ON progress_values (submission_id);

CREATE TABLE period_locks (
    period    date PRIMARY KEY CHECK (period = date_trunc('month', period)),
    locked_by text NOT NULL,
    locked_at timestamptz NOT NULL DEFAULT now(),
    reason    text
);

-- Targets are data: national ones below, a province adds its own (scope_adcode).
CREATE TABLE targets (
    target_id    serial PRIMARY KEY,
    indicator    text NOT NULL CHECK (indicator ~ '^[a-z][a-z0-9_]*$'),
    scope_adcode char(6) REFERENCES regions (adcode),
    tier         text CHECK (tier IN ('三级', '二级')),
    value        numeric NOT NULL CHECK (value >= 0),
    due_period   date NOT NULL CHECK (due_period = date_trunc('month', due_period)),
    source       text NOT NULL,
    UNIQUE NULLS NOT DISTINCT (indicator, scope_adcode, tier, due_period)
);
INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source) VALUES
    ('ops_platform_coverage_tertiary', NULL, '三级', 0.5, '2025-12-01', '国卫财务函〔2024〕132号'),
    ('ops_platform_coverage_tertiary', NULL, '三级', 1.0, '2027-12-01', '国卫财务函〔2024〕132号');

CREATE TABLE audit_log (
    audit_id bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    username text,
    address  text,
    action   text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]*$'),
    object   text,
    details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

-- Every region with each of its ancestors along the reporting hierarchy
-- (depth 0 = itself), so a roll-up to any level is one join.
CREATE VIEW region_ancestors AS
WITH RECURSIVE up (adcode, ancestor_adcode, depth) AS (
    SELECT adcode, adcode, 0 FROM regions
    UNION ALL
    SELECT up.adcode, r.parent_adcode, up.depth + 1
    FROM up JOIN regions r ON r.adcode = up.ancestor_adcode
    WHERE r.parent_adcode IS NOT NULL
)
SELECT adcode, ancestor_adcode, depth FROM up;
