-- Limits on the GitHub Actions backend's retries.
ALTER TABLE jobs
    -- Failed tries to download a completed run's artifact, and the time
    -- before which the collector leaves the job alone. After
    -- `actions.max_download_attempts` failures the job fails, instead of
    -- retrying an error that never passes forever.
    ADD COLUMN collect_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN collect_retry_after timestamptz,
    -- When pitot asked GitHub to cancel the workflow run of a cancelled or
    -- superseded job (or learned that the run had already ended), and the
    -- failed tries so far. The worker gives up after a few failures: the
    -- run's results are ignored anyway, so a run left going only costs
    -- runner minutes.
    ADD COLUMN workflow_cancelled_at timestamptz,
    ADD COLUMN workflow_cancel_failures integer NOT NULL DEFAULT 0;

-- The worker looks for runs to cancel every round; this keeps the scan to
-- the few jobs that still wait for it.
CREATE INDEX jobs_workflow_run_to_cancel ON jobs (id)
    WHERE backend = 'actions' AND state IN ('cancelled', 'superseded')
      AND workflow_run_id IS NOT NULL AND workflow_conclusion IS NULL
      AND workflow_cancelled_at IS NULL;
