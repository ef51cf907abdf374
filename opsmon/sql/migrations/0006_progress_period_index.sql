-- Every refresh check reads the aggregates' calendar (the first and last month with
-- current data). monthly_values has this index since 0001; without it on
-- progress_values, each min/max scanned the whole table (≈ 45 ms nationally, several
-- times per refresh).
CREATE INDEX progress_values_period_idx ON progress_values (period) WHERE is_current;
