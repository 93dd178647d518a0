-- Drops the foreign keys of `results` and `run_benchmarks`, the two tables
-- that grow by one row per value and per benchmark of every results file,
-- and replaces their ON DELETE CASCADE with statement-level triggers.
--
-- Why: PostgreSQL checks a foreign key with one query per inserted row that
-- also takes a KEY SHARE lock on the referenced row. For the django-asv
-- history that is about 1.3 million checks, and the series, benchmark and
-- version rows they lock are shared by every file of a machine, so
-- concurrent ingests lock the same rows. Dropping the five constraints
-- halved the server's CPU time for that import (docs/benchmarks.md).
--
-- Why it is safe: `Store::ingest` is the only writer of both tables. It
-- writes a run's rows in the transaction that inserted or locked the run
-- row, takes every benchmark, version and series id from a row it found or
-- created in that transaction or in an earlier committed one, and writes a
-- result row only for a benchmark whose run_benchmarks row it writes in the
-- same transaction. Nothing in pitot deletes benchmarks, versions or
-- series; see the NOTE below for what a manual delete does.
ALTER TABLE results
    DROP CONSTRAINT results_run_benchmark_fkey,
    DROP CONSTRAINT results_series_fkey;

ALTER TABLE run_benchmarks
    DROP CONSTRAINT run_benchmarks_run_fkey,
    DROP CONSTRAINT run_benchmarks_benchmark_fkey,
    DROP CONSTRAINT run_benchmarks_version_fkey;

-- The cascades the constraints gave. A trigger per statement instead of per
-- row: deleting a repository deletes its runs in one statement, and their
-- rows go in one DELETE each. Deleting a run removes its rows even when an
-- ingest is writing them, because that ingest holds the run's row lock and
-- the delete waits for it.
CREATE FUNCTION delete_rows_of_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM results WHERE run_id IN (SELECT id FROM deleted_runs);
    DELETE FROM run_benchmarks WHERE run_id IN (SELECT id FROM deleted_runs);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_delete_rows AFTER DELETE ON runs
    REFERENCING OLD TABLE AS deleted_runs
    FOR EACH STATEMENT EXECUTE FUNCTION delete_rows_of_runs();

-- NOTE: deleting a benchmark while an ingest writes results for it can
-- leave rows that name the deleted benchmark or series, because the ingest
-- no longer locks the benchmark row. Deleting a machine, environment,
-- commit or repository cannot: those reach the rows through `runs`.
CREATE FUNCTION delete_results_of_series() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM results WHERE series_id IN (SELECT id FROM deleted_series);
    RETURN NULL;
END
$$;

CREATE TRIGGER series_delete_results AFTER DELETE ON series
    REFERENCING OLD TABLE AS deleted_series
    FOR EACH STATEMENT EXECUTE FUNCTION delete_results_of_series();

-- run_benchmarks has no index that starts with benchmark_id, so this is one
-- scan of the table per deleting statement; benchmarks are deleted rarely
-- enough (by hand, or with their repository) that an index is not worth
-- its cost on every ingest.
CREATE FUNCTION delete_run_benchmarks_of_benchmarks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_benchmarks WHERE benchmark_id IN (SELECT id FROM deleted_benchmarks);
    RETURN NULL;
END
$$;

CREATE TRIGGER benchmarks_delete_run_benchmarks AFTER DELETE ON benchmarks
    REFERENCING OLD TABLE AS deleted_benchmarks
    FOR EACH STATEMENT EXECUTE FUNCTION delete_run_benchmarks_of_benchmarks();

-- No planner statistics for the raw samples: no query filters, joins or
-- sorts on them, and computing element statistics for a float8[] column
-- was about half the time of ANALYZE on `results` after a bulk import.
ALTER TABLE results ALTER COLUMN samples SET STATISTICS 0;
