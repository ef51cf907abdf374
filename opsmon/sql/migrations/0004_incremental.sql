-- Incremental indicator refresh: what each derived table was built from. The hospitals
-- whose values arrived since are found through the submission_id indexes of 0001.
ALTER TABLE indicator_state ADD COLUMN watermark bigint;  -- submissions up to this id are included
ALTER TABLE indicator_state ADD COLUMN calendar text;     -- the first and last month the build covered
