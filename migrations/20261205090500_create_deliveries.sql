-- One row per GitHub webhook delivery pitot accepted (signature verified).
--
-- The unique delivery id makes a redelivery a no-op: GitHub redelivers
-- with the same `X-GitHub-Delivery` value, both when someone presses
-- "Redeliver" and when it retries after a timeout, and pitot then answers
-- 2xx without acting again.
CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY,
    -- The `X-GitHub-Delivery` header, a GUID.
    delivery_id text NOT NULL,
    -- The `X-GitHub-Event` header, such as `pull_request`.
    event text NOT NULL,
    -- The payload's `action`, when it has one.
    action text,
    -- `owner/name` as the payload spells it, when the event is about one repository.
    repository text,
    pr_number bigint,
    -- What pitot did with the delivery. `received` is only ever seen inside
    -- the transaction that records it.
    outcome text NOT NULL DEFAULT 'received',
    -- The job the delivery created, re-queued or found.
    job_id bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT deliveries_delivery_id_key UNIQUE (delivery_id),
    CONSTRAINT deliveries_job_fkey FOREIGN KEY (job_id)
        REFERENCES jobs (id) ON DELETE SET NULL,
    CONSTRAINT deliveries_outcome_valid CHECK (
        outcome IN ('received', 'ignored', 'job_queued', 'job_requeued', 'job_unchanged',
                    'jobs_cancelled', 'marked_stale', 'installation_updated')
    )
);

CREATE INDEX deliveries_job ON deliveries (job_id) WHERE job_id IS NOT NULL;
