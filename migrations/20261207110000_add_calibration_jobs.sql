-- Calibration jobs: an A/A run that benchmarks one commit against itself
-- on one machine, to measure how far a benchmark moves when nothing in the
-- code changed. The agent runs asv on `head_sha` `calibration_passes`
-- times and keeps each pass's results apart. The server stores the
-- difference between the passes in `calibration_noise` and never ingests
-- the results as runs, because they are not history of the commit.
--
-- `base_sha` equals `head_sha` for a calibration job, which satisfies
-- `jobs_explicit_base` without a new exception.

-- The asv machine that must run the job; NULL lets any agent claim it.
-- Added with IF NOT EXISTS because another change adds the same column
-- for its own jobs, and either may be applied first.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS required_machine text;

-- The kind list also names `confirm`, which another change adds at the
-- same time. Both migrations leave the same constraint behind, whichever
-- runs last.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_kind_valid;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_valid
    CHECK (kind IN ('pull_request', 'history', 'release', 'confirm', 'calibration'));

-- How many times the agent runs asv on the commit. Two passes give one
-- difference; more passes give the spread between the extremes.
ALTER TABLE jobs
    ADD COLUMN calibration_passes smallint,
    ADD CONSTRAINT jobs_calibration_passes_valid CHECK (
        (kind = 'calibration') = (calibration_passes IS NOT NULL)
        AND (calibration_passes IS NULL OR calibration_passes BETWEEN 2 AND 10)
    ),
    ADD CONSTRAINT jobs_calibration_same_commit CHECK (
        kind <> 'calibration' OR base_sha = head_sha
    );

-- One unfinished calibration per commit and machine: a second click on the
-- dashboard or a repeated CLI call finds the queued job instead of adding
-- another. `coalesce` makes "any machine" one key, because NULLs are
-- distinct in a unique index.
CREATE UNIQUE INDEX jobs_calibration_pending_key
    ON jobs (repository_id, head_sha, coalesce(required_machine, ''))
    WHERE kind = 'calibration' AND state IN ('queued', 'running', 'ingesting');

-- The noise one calibration job measured: one row per benchmark, parameter
-- combination, machine and environment. Rows are kept per job, so the
-- dashboard can show earlier calibrations; thresholds use the newest row
-- of each series.
CREATE TABLE calibration_noise (
    job_id bigint NOT NULL,
    repository_id integer NOT NULL,
    -- The commit that was benchmarked against itself.
    commit_sha text NOT NULL,
    -- The asv machine and environment the agent recorded the results under.
    machine text NOT NULL,
    environment text NOT NULL,
    -- The benchmark's full asv name without parameters.
    benchmark text NOT NULL,
    -- The name asv shows, `benchmark(param1, param2)`, which tells the
    -- parameter combinations apart; equal to `benchmark` without parameters.
    series_name text NOT NULL,
    unit text,
    -- How many passes produced a value for this series.
    passes smallint NOT NULL,
    -- `max / min - 1` over the passes' values, as a fraction. NULL when
    -- fewer than two passes produced a positive value.
    relative_difference double precision,
    -- The largest, over the passes, of the samples' interquartile range
    -- divided by their median, as a fraction. NULL without samples.
    sample_spread double precision,
    measured_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calibration_noise_pkey PRIMARY KEY (job_id, machine, environment, series_name),
    CONSTRAINT calibration_noise_job_fkey FOREIGN KEY (job_id)
        REFERENCES jobs (id) ON DELETE CASCADE,
    CONSTRAINT calibration_noise_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT calibration_noise_passes_valid CHECK (passes >= 0),
    CONSTRAINT calibration_noise_difference_valid CHECK (relative_difference >= 0),
    CONSTRAINT calibration_noise_spread_valid CHECK (sample_spread >= 0)
);

-- Thresholds look up the newest calibration of a repository's series on
-- one machine and environment.
CREATE INDEX calibration_noise_series
    ON calibration_noise (repository_id, machine, environment, measured_at DESC);
