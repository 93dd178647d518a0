-- What an agent reported at the end of an attempt: the outcome, the
-- merge-base, the log and asv's files, kept verbatim so that the ingest
-- and reporting steps that follow can be re-run from it and nothing is lost
-- if they fail.
CREATE TABLE job_reports (
    id bigint GENERATED ALWAYS AS IDENTITY,
    job_id bigint NOT NULL,
    attempt integer NOT NULL,
    outcome text NOT NULL,
    machine text NOT NULL,
    head_sha text NOT NULL,
    base_sha text,
    -- asv's `benchmarks.json` as the agent sent it; text rather than jsonb,
    -- because jsonb would reorder keys and drop the file's exact bytes.
    benchmarks_json text,
    log text NOT NULL,
    error text,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_reports_pkey PRIMARY KEY (id),
    CONSTRAINT job_reports_job_fkey FOREIGN KEY (job_id)
        REFERENCES jobs (id) ON DELETE CASCADE,
    -- An agent retries a report that failed on the network; the second copy
    -- of the same attempt is dropped.
    CONSTRAINT job_reports_job_attempt_key UNIQUE (job_id, attempt),
    CONSTRAINT job_reports_outcome_valid CHECK (outcome IN ('completed', 'failed')),
    CONSTRAINT job_reports_head_sha_format CHECK (head_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
    CONSTRAINT job_reports_base_sha_format CHECK (base_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$')
);
