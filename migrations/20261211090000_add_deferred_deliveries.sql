-- A delivery whose changes wait on a row lock that a worker holds (during
-- a GitHub call, for example) is stored as `deferred` with its payload and
-- applied later by the server, instead of getting a 503 response: GitHub
-- does not redeliver a failed delivery on its own, so a 503 would leave it
-- to someone pressing "Redeliver".
--
-- `payload` holds the JSON document until the delivery is applied, then is
-- cleared. `attempts` counts the tries at applying it and `error` keeps the
-- last failure, so an operator can see why a delivery still waits. After
-- too many tries the delivery is `failed`, with its payload kept, and a
-- redelivery of it from GitHub is applied as a new delivery.
ALTER TABLE deliveries
    ADD COLUMN payload bytea,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN error text;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_outcome_valid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_outcome_valid CHECK (
    outcome IN ('received', 'ignored', 'job_queued', 'job_requeued', 'job_unchanged',
                'jobs_cancelled', 'marked_stale', 'installation_updated', 'command_recorded',
                'workflow_run_completed', 'release_recorded', 'deferred', 'failed')
);
-- A deferred delivery has its payload; one that failed keeps it for the
-- operator; any other has none.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_payload_kept CHECK (
    CASE outcome
        WHEN 'deferred' THEN payload IS NOT NULL
        WHEN 'failed' THEN true
        ELSE payload IS NULL
    END
);

-- The deferred deliveries in the order they arrived, and the check that a
-- pull request has none before a newer delivery of it is applied.
CREATE INDEX deliveries_deferred ON deliveries (repository, pr_number, received_at, id)
    WHERE outcome = 'deferred';
