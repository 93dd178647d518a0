-- A `confirm` job runs the benchmarks that a pull request job flagged as
-- regressions a second time, with more rounds, before the reporter writes
-- the comment. `calibration` is listed here too because another change
-- adds that kind at the same time, and the constraint must allow both
-- whichever migration runs last.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_valid;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_valid CHECK (
    kind IN ('pull_request', 'history', 'release', 'confirm', 'calibration')
);
