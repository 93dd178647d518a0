-- What pitot has told GitHub about a job, so that the reporter can catch up
-- after a restart and never reports the same run twice.
--
-- `check_run_id` is the check run on the job's head commit, created when
-- the reporter first sees the job queued or running. `github_synced` is the
-- last thing written for the current run:
--
--   NULL          nothing yet
--   'in_progress' the check run exists and shows the run as in progress
--   'completed'   the comment and the check run's conclusion are written
--
-- Queuing a finished job again clears both, so the new run gets its own
-- check run; the pull request's comment is edited in place either way.
ALTER TABLE jobs
    ADD COLUMN check_run_id bigint,
    ADD COLUMN github_synced text,
    -- The latest comment body rendered for the job, kept for the dashboard
    -- and for `pitot demo`, which prints it.
    ADD COLUMN comment_body text,
    -- Failed tries at writing the current run's outcome to GitHub, and the
    -- time before which the reporter leaves the job alone (NULL: now). A
    -- failure moves the job behind the others instead of blocking them.
    ADD COLUMN report_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN report_after timestamptz,
    ADD CONSTRAINT jobs_github_synced_valid CHECK (github_synced IN ('in_progress', 'completed'));

-- The reporter looks for jobs whose GitHub state lags behind their own,
-- after every queued job: both indexes leave out the jobs already written,
-- so a long queue does not make each look a scan.
CREATE INDEX jobs_github_pending ON jobs (updated_at, id)
    WHERE pr_number IS NOT NULL AND github_synced IS DISTINCT FROM 'completed'
      AND state IN ('ingesting', 'failed', 'cancelled', 'superseded');
CREATE INDEX jobs_check_run_pending ON jobs (updated_at, id)
    WHERE pr_number IS NOT NULL AND github_synced IS NULL AND state IN ('queued', 'running');
