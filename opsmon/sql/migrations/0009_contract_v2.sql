-- Submission format v2 (spec/submission-format.md, "v2 additions"): optional monthly
-- columns, the registry's budget_authority and two more affiliations, the progress
-- report's campaign_optimized_processes. Every v1 row stays valid: the new columns are
-- NULL ("not reported") and the new identities are NOT VALID (checked on new rows only;
-- validation refuses such files with row/column errors before they get here).

ALTER TABLE monthly_values
    ADD COLUMN medical_service_revenue    numeric(18,2) CHECK (medical_service_revenue >= 0),
    ADD COLUMN medical_activity_revenue   numeric(18,2) CHECK (medical_activity_revenue >= 0),
    ADD COLUMN medical_activity_expense   numeric(18,2) CHECK (medical_activity_expense >= 0),
    ADD COLUMN discharged_patient_revenue numeric(18,2) CHECK (discharged_patient_revenue >= 0),
    ADD COLUMN herbal_pieces_revenue      numeric(18,2) CHECK (herbal_pieces_revenue >= 0),
    ADD COLUMN insurance_receivable       numeric(18,2) CHECK (insurance_receivable >= 0),
    ADD COLUMN supplier_payable           numeric(18,2) CHECK (supplier_payable >= 0),
    ADD COLUMN short_term_loans           numeric(18,2) CHECK (short_term_loans >= 0),
    ADD COLUMN long_term_payables         numeric(18,2) CHECK (long_term_payables >= 0),
    ADD COLUMN inventory                  numeric(18,2) CHECK (inventory >= 0);

-- The v2 identities, tolerance 1 元 (NULL passes a CHECK: applied only when present).
ALTER TABLE monthly_values
    ADD CONSTRAINT medical_service_revenue_bound
        CHECK (medical_service_revenue <= medical_revenue + 1) NOT VALID,
    ADD CONSTRAINT herbal_pieces_revenue_bound
        CHECK (herbal_pieces_revenue <= drug_revenue + 1) NOT VALID,
    ADD CONSTRAINT inventory_bound
        CHECK (inventory <= current_assets + 1) NOT VALID,
    ADD CONSTRAINT short_term_loans_bound
        CHECK (short_term_loans <= current_liabilities + 1) NOT VALID,
    -- These two bind v1 columns, which rows stored before v2 may break. NOT VALID spares them at
    -- ALTER time only: PostgreSQL checks every new row version, and retiring a revision
    -- (UPDATE ... SET is_current = false, when the hospital re-submits the month) writes one.
    -- So the bound holds for current rows: an old violating row can still be retired.
    ADD CONSTRAINT salary_arrears_bound
        CHECK (NOT is_current OR salary_arrears <= total_liabilities + 1) NOT VALID,
    ADD CONSTRAINT construction_debt_bound
        CHECK (NOT is_current OR construction_debt <= total_liabilities + 1) NOT VALID;

ALTER TABLE progress_values
    ADD COLUMN campaign_optimized_processes integer CHECK (campaign_optimized_processes >= 0),
    ADD CONSTRAINT campaign_processes_bound
        CHECK (campaign_optimized_processes <= optimized_processes) NOT VALID;

ALTER TABLE hospitals DROP CONSTRAINT IF EXISTS hospitals_affiliation_check;
ALTER TABLE hospitals ADD CONSTRAINT hospitals_affiliation_check
    CHECK (affiliation IN ('省属', '市属', '县属', '中央属', '委属委管'));

-- v1 meaning of is_budget_managed = 是 in a province's own registry: 省.
ALTER TABLE hospitals ADD COLUMN budget_authority text NOT NULL DEFAULT '无'
    CHECK (budget_authority IN ('国家', '省', '无'));
UPDATE hospitals SET budget_authority = '省' WHERE is_budget_managed;
-- A row written without budget_authority (a v1 registry, an older writer) gets the v1 meaning;
-- a level of 国家/省 makes the hospital budget-managed. Files that contradict themselves
-- (预算管理医院 = 否 with 国家) are refused by validation before they get here.
CREATE FUNCTION hospitals_budget_authority() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.is_budget_managed IS DISTINCT FROM OLD.is_budget_managed
       AND NEW.budget_authority = OLD.budget_authority THEN
        -- only the flag was set: it decides
        NEW.budget_authority := CASE WHEN NEW.is_budget_managed THEN '省' ELSE '无' END;
    ELSIF NEW.budget_authority = '无' AND NEW.is_budget_managed THEN
        NEW.budget_authority := '省';
    END IF;
    NEW.is_budget_managed := NEW.budget_authority <> '无';
    RETURN NEW;
END $$;
CREATE TRIGGER hospitals_budget_authority BEFORE INSERT OR UPDATE ON hospitals
    FOR EACH ROW EXECUTE FUNCTION hospitals_budget_authority();
ALTER TABLE hospitals ADD CONSTRAINT budget_authority_consistent
    CHECK (is_budget_managed = (budget_authority <> '无'));
