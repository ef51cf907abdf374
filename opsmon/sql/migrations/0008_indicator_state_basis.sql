-- indicator_state.calendar held more than the months a build covered: what an
-- incremental refresh must find unchanged, 'first..last|<registry digest>'
-- (opsmon.indicators.aggregate.basis). Renamed to say so; the stored values keep
-- their meaning, so a database built before this still refreshes incrementally.
ALTER TABLE indicator_state RENAME COLUMN calendar TO basis;
