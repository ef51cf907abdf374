-- Risk rules v2 (spec/indicators.md, "Risk rules (v2)"; opsmon/indicators/risk_rules.py).
--
-- 1. Every firing and episode explains itself: `detail` (jsonb) holds the condition's metric,
--    its value, the operator and the threshold of the level it passed, the window, the values
--    that make up the metric (e.g. revenue and expense of the 12 months) and, for
--    cash_forecast, the projected month. NULL on rows written before v2 (none survive the
--    rebuild below).
-- 2. A rule may have several conditions (long_term_debt: the ratio to assets, or the growth on
--    12 months earlier): a threshold override names its condition by `metric`; NULL keeps
--    meaning the rule's first condition, so every v1 row keeps its meaning.
-- 3. Rule ids, v1 → v2:
--      deficit_ytd                → deficit_12m                 (year to date → trailing 12 months; orange/red kept)
--      deficit_streak             → deficit_streak              (v1 red → v2 yellow; orange only with deficit_12m)
--      debt_ratio_high            → debt_ratio_high             (yellow/orange kept; v1 red, ≥ 100 %, retired:
--                                                                the new net_assets_negative says it)
--      long_term_debt_rising      → long_term_debt              (3 monthly rises → level or 12-month growth)
--      construction_debt_increase → construction_loans_increase (vs the month before, red → vs 12 months
--                                                                earlier, orange)
--      salary_arrears, liquidity_low, cash_short, report_missing: unchanged.
--    New: medical_deficit, net_assets_negative, cash_forecast, receivable_days_high,
--    supplier_payable_days_high.
--
-- Threshold overrides (risk_thresholds) follow the rename where the metric keeps its meaning
-- and unit: deficit_ytd's (a surplus rate) become deficit_12m's; construction_debt_increase's
-- (an increase in 元) become construction_loans_increase's, its red level becoming the rule's
-- orange; deficit_streak's red (a number of months) becomes its yellow. Overrides that cannot
-- carry over are retired: long_term_debt_rising's (a count of monthly rises means nothing for
-- a ratio or a growth rate) and debt_ratio_high's red (v2 has no red level for the ratio). A
-- row whose renamed key already exists (a province that had set both) keeps the existing row.
-- Every v1 override row is kept unchanged in risk_thresholds_v1, for the record.
--
-- Old episodes: the v1 register is copied as it stood into risk_register_v1 (with its episode
-- ids, periods, levels and recorded_at), so what was flagged before v2 stays on record. In
-- risk_register the rule ids are renamed as above (no v1 rule is dropped outright: each maps to
-- its v2 successor); the firings are cleared, and the register's build state is forgotten, so the next refresh
-- (risk.refresh_register, run by every read of the register) rebuilds everything from the data
-- under v2. That rebuild keeps an episode's id and recorded_at where v2 finds the same
-- hospital, rule and first month, updates its last month, level and detail, and removes every
-- v1 episode v2 does not find (trailing windows start later than year-to-date ones, so most v1
-- deficit episodes are replaced by v2 ones).

ALTER TABLE risk_firings ADD COLUMN detail jsonb;
ALTER TABLE risk_register ADD COLUMN detail jsonb;

CREATE TABLE risk_register_v1 AS SELECT * FROM risk_register;
COMMENT ON TABLE risk_register_v1 IS
    'The risk register as it stood under the v1 rules (migration 0010); history only, never updated.';
CREATE TABLE risk_thresholds_v1 AS SELECT * FROM risk_thresholds;
COMMENT ON TABLE risk_thresholds_v1 IS
    'The risk threshold overrides as they stood under the v1 rules (migration 0010); history only.';

ALTER TABLE risk_thresholds ADD COLUMN metric text CHECK (metric ~ '^[a-z][a-z0-9_]*$');
ALTER TABLE risk_thresholds DROP CONSTRAINT risk_thresholds_pkey;
CREATE UNIQUE INDEX risk_thresholds_key ON risk_thresholds (rule, coalesce(metric, ''), level);

CREATE TEMP TABLE risk_threshold_map (old_rule text, old_level text, new_rule text, new_level text)
    ON COMMIT DROP;
INSERT INTO risk_threshold_map VALUES
    ('deficit_ytd', NULL, 'deficit_12m', NULL),  -- NULL level: every level not named, kept
    ('deficit_streak', 'red', 'deficit_streak', 'yellow'),
    ('construction_debt_increase', 'red', 'construction_loans_increase', 'orange'),
    ('construction_debt_increase', NULL, 'construction_loans_increase', NULL);
-- Where two old rows land on one new key, the one already at that level wins.
INSERT INTO risk_thresholds (rule, level, threshold, enabled, note, updated_at, metric)
SELECT DISTINCT ON (m.new_rule, coalesce(m.new_level, t.level))
       m.new_rule, coalesce(m.new_level, t.level), t.threshold, t.enabled,
       concat_ws('; ', t.note, 'v1 ' || t.rule || '/' || t.level || ' (migration 0010)'), t.updated_at, t.metric
FROM risk_thresholds t
JOIN risk_threshold_map m
  ON m.old_rule = t.rule
 AND (m.old_level = t.level
      OR (m.old_level IS NULL AND NOT EXISTS (SELECT 1 FROM risk_threshold_map n
                                              WHERE n.old_rule = t.rule AND n.old_level = t.level)))
WHERE (t.rule, t.level) IS DISTINCT FROM (m.new_rule, coalesce(m.new_level, t.level))
ORDER BY m.new_rule, coalesce(m.new_level, t.level), t.level = coalesce(m.new_level, t.level) DESC
ON CONFLICT DO NOTHING;
DELETE FROM risk_thresholds t
WHERE t.rule IN ('deficit_ytd', 'construction_debt_increase', 'long_term_debt_rising')
   OR (t.rule = 'deficit_streak' AND t.level = 'red')
   OR (t.rule = 'debt_ratio_high' AND t.level = 'red');

-- The register: rule ids renamed; rebuilt under v2 at the next refresh.
UPDATE risk_register SET rule = CASE rule WHEN 'deficit_ytd' THEN 'deficit_12m'
                                          WHEN 'long_term_debt_rising' THEN 'long_term_debt'
                                          WHEN 'construction_debt_increase' THEN 'construction_loans_increase' END
WHERE rule IN ('deficit_ytd', 'long_term_debt_rising', 'construction_debt_increase');
TRUNCATE risk_firings;
DELETE FROM indicator_state WHERE name = 'risk_register';
