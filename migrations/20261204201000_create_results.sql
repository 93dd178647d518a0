-- One row per benchmark, parameter combination and run: the measured value
-- or the reason there is none, with asv's statistics and raw samples.
--
-- This is the only large table (the django-asv history alone has 256,000
-- rows), so its layout follows the two queries that read it most:
--
-- * One series over its whole history (a chart with 10,000 commits). The
--   index `results_series_history` is keyed by series and commit date and
--   carries every column a chart draws, so that query is one range scan of
--   one index that never visits the table (an index-only scan, once VACUUM
--   has marked the pages all-visible).
-- * The latest value of every series of a suite (an overview of some 7,500
--   series). For each series that is the last entry of the same index range,
--   one descent of the index per series, instead of a sort over all results.
--
-- To serve both from one index without joins, each row carries copies of
-- its run's commit id and commit date and of its benchmark version id. The
-- ingest writes them in the same transaction as the run, and they never
-- change independently: a commit's date is set once, and a changed file
-- replaces the run's rows. They have no foreign keys because the row's run
-- already ties it to the same commit; skipping those checks keeps bulk
-- loading fast.

-- asv writes a measured number, `null` for a benchmark that failed, and NaN
-- for one that was skipped (for example by NotImplementedError in setup).
-- An explicit state keeps NaN out of the value column, where it would sort
-- above every number and poison aggregates.
CREATE TYPE result_outcome AS ENUM ('value', 'failed', 'skipped');

CREATE TABLE results (
    -- 8-byte columns first, then 4-byte ones, so that no alignment padding
    -- is wasted in a table this size.
    run_id bigint NOT NULL,
    series_id bigint NOT NULL,
    commit_id bigint NOT NULL,
    committed_at timestamptz,
    value double precision,
    -- asv's 99% confidence interval of the median, and the quartiles.
    ci_99_low double precision,
    ci_99_high double precision,
    q_25 double precision,
    q_75 double precision,
    -- Loops per sample and number of samples. asv writes integers, but they
    -- are stored as the numbers the file holds so a run round-trips exactly.
    number double precision,
    repeat double precision,
    benchmark_id integer NOT NULL,
    -- Position of the combination in the cartesian product of the run's
    -- parameter lists (the last parameter varies fastest), so the run can be
    -- rebuilt in the file's order. `series.params` holds the same
    -- combination by value, which is what history queries use.
    combination integer NOT NULL,
    version_id integer,
    outcome result_outcome NOT NULL,
    -- The raw timings asv keeps when run with `--record-samples`; NULL when
    -- the file has none.
    samples double precision[],
    CONSTRAINT results_pkey PRIMARY KEY (run_id, benchmark_id, combination),
    -- Deleting a run, or replacing its file, removes its results with it.
    CONSTRAINT results_run_benchmark_fkey FOREIGN KEY (run_id, benchmark_id)
        REFERENCES run_benchmarks (run_id, benchmark_id) ON DELETE CASCADE,
    CONSTRAINT results_series_fkey FOREIGN KEY (series_id)
        REFERENCES series (id) ON DELETE CASCADE,
    CONSTRAINT results_combination_nonnegative CHECK (combination >= 0),
    CONSTRAINT results_value_matches_outcome CHECK ((outcome = 'value') = (value IS NOT NULL))
);

-- See the table comment: key columns for the range scan, INCLUDE columns so
-- the scan never reads the table. The samples and quartiles are left out on
-- purpose: they are wide and only a single point's detail view needs them.
CREATE INDEX results_series_history ON results (series_id, committed_at)
    INCLUDE (commit_id, version_id, outcome, value, ci_99_low, ci_99_high);
