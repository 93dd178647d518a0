-- A `workflow_run` `completed` delivery for a job of the Actions backend
-- records the run's conclusion on the job, for the collector.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_outcome_valid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_outcome_valid CHECK (
    outcome IN ('received', 'ignored', 'job_queued', 'job_requeued', 'job_unchanged',
                'jobs_cancelled', 'marked_stale', 'installation_updated', 'command_recorded',
                'workflow_run_completed')
);
