-- A national instance: one 'nation' row (100000 全国) with the provinces under it.
-- The root of the hierarchy (no parent) is the nation there, the province in a
-- provincial instance; prefectures and counties always report to someone.
ALTER TABLE regions DROP CONSTRAINT regions_level_check;
ALTER TABLE regions ADD CONSTRAINT regions_level_check
    CHECK (level IN ('nation', 'province', 'prefecture', 'county'));
ALTER TABLE regions DROP CONSTRAINT regions_check;
ALTER TABLE regions ADD CONSTRAINT regions_parent_check CHECK (
    CASE level WHEN 'nation' THEN parent_adcode IS NULL
               WHEN 'province' THEN true
               ELSE parent_adcode IS NOT NULL END);
-- One root per database, whichever it is.
CREATE UNIQUE INDEX regions_one_root ON regions ((true)) WHERE parent_adcode IS NULL;
