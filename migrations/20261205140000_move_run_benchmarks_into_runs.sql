-- Moves what asv records once per benchmark of a results file (the
-- parameter lists, version, start time and duration) from `run_benchmarks`,
-- one row per benchmark and run, into a `jsonb` array on the run's own row,
-- and drops `run_benchmarks`.
--
-- Why: only `Store::load_commit` reads these columns, always for whole
-- runs, while every ingest wrote them. In the django-asv history each
-- benchmark has one parameter combination, so `run_benchmarks` had as many
-- rows as `results` (256,000): half the rows and one of the three indexes
-- that a bulk import wrote. As part of the run row they cost one value per
-- results file.
--
-- Each element is an object with the keys `benchmark_id`, `params` (one
-- list of repr() strings per parameter, as the file lists them) and,
-- when the file has them, `version_id`, `started_at` (milliseconds since
-- the Unix epoch, asv's own unit) and `duration` (seconds). A NaN or
-- infinite duration is left out, because JSON cannot represent it; the old
-- column could hold one.
ALTER TABLE runs
    ADD COLUMN benchmarks jsonb NOT NULL DEFAULT '[]',
    ADD CONSTRAINT runs_benchmarks_is_array CHECK (jsonb_typeof(benchmarks) = 'array');

-- The rows of a run become its array, ordered by benchmark id so that the
-- result does not depend on the order of the table's rows. A run without
-- rows keeps the empty array.
UPDATE runs
SET benchmarks = moved.entries
FROM (
    SELECT run_id,
           jsonb_agg(
               jsonb_strip_nulls(jsonb_build_object(
                   'benchmark_id', benchmark_id,
                   'params', params,
                   'version_id', version_id,
                   'started_at', floor(extract(epoch FROM started_at) * 1000)::bigint,
                   'duration', CASE WHEN duration IN ('NaN', 'Infinity', '-Infinity') THEN NULL
                                    ELSE duration END
               ))
               ORDER BY benchmark_id
           ) AS entries
    FROM run_benchmarks
    GROUP BY run_id
) AS moved
WHERE runs.id = moved.run_id;

-- Deleting a run now removes only its results; the rest goes with the row.
CREATE OR REPLACE FUNCTION delete_rows_of_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM results WHERE run_id IN (SELECT id FROM deleted_runs);
    RETURN NULL;
END
$$;

-- A deleted benchmark's entries stay in the arrays of older runs.
-- `load_commit` joins them to `benchmarks` and so leaves them out, as the
-- cascade used to delete them.
DROP TRIGGER benchmarks_delete_run_benchmarks ON benchmarks;
DROP FUNCTION delete_run_benchmarks_of_benchmarks();

DROP TABLE run_benchmarks;
