-- 0011 — targets v2 (spec/indicators.md, "Operations-management programme"; issue 15 §5).
--
-- * process_target_share belongs to the 2024–2025 campaign of 国卫财务函〔2024〕132号: due 2025-12,
--   not 2027-12 (0002 seeded it with the platform target's horizon). The indicator itself (targets
--   5 / 2, processes since 2024-01) is in the catalogue.
-- * leaders_platform_share: 132号 asks the pilot and 国家 budget-managed hospitals to complete the
--   platform first ("率先完成"): 100 % by 2025-12.
-- * 吉林's own targets (吉卫联发〔2022〕19号): the operations-management system in every 三级
--   hospital by 2022-12 and every 二级 one by 2023-12; at least one business-finance pilot project
--   per hospital per year.
-- * nurse_doctor_ratio ≥ 2 (医护比 1:2) from 吉市政办发〔2022〕26号. That is a document of 吉林市's
--   government (吉市政办发, not the province's 吉政办发), so the target is 吉林市's (220200); it names
--   no date in the spec: due 2025-12, the end of the 十四五 period the 2022 plans run to.
--
-- Targets of a province are seeded in every database: the scope decides where one applies, and a
-- scope this database does not hold applies nowhere. Migrations run before the regions are loaded,
-- so the scope can no longer be a foreign key to regions; a format check stands in for it.
--
-- "Every year" is a recurring target: recurrence = 'yearly' repeats the target every 12 months
-- from its due_period; as of a month the instance due in the next December (or this one) is
-- evaluated (opsmon.indicators.targets), so a year missed shows as 逾期未达标 in its December and
-- the next year's instance takes over in January — a yearly count that restarts every January
-- cannot be "met later".

ALTER TABLE targets DROP CONSTRAINT IF EXISTS targets_scope_adcode_fkey;
ALTER TABLE targets ADD CONSTRAINT targets_scope_adcode_format CHECK (scope_adcode ~ '^[1-9][0-9]{5}$');
ALTER TABLE targets ADD COLUMN recurrence text CHECK (recurrence IN ('yearly'));

DELETE FROM targets
WHERE indicator = 'process_target_share' AND scope_adcode IS NULL AND tier IS NULL AND due_period = '2027-12-01';

INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source, recurrence) VALUES
    ('process_target_share', NULL, NULL, 1.0, '2025-12-01', '国卫财务函〔2024〕132号（2024—2025年活动）', NULL),
    ('leaders_platform_share', NULL, NULL, 1.0, '2025-12-01', '国卫财务函〔2024〕132号（试点及国家预算管理医院率先完成）',
     NULL),
    ('ops_committee_share', '220000', '三级', 1.0, '2022-12-01', '吉卫联发〔2022〕19号（运营管理体系全覆盖）', NULL),
    ('ops_committee_share', '220000', '二级', 1.0, '2023-12-01', '吉卫联发〔2022〕19号（运营管理体系全覆盖）', NULL),
    ('pilot_hospital_share', '220000', NULL, 1.0, '2022-12-01', '吉卫联发〔2022〕19号（每院每年至少1个业财融合试点项目）',
     'yearly'),
    ('nurse_doctor_ratio', '220200', NULL, 2.0, '2025-12-01', '吉市政办发〔2022〕26号（医护比1:2）', NULL)
ON CONFLICT DO NOTHING;
