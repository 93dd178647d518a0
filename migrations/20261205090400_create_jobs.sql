-- The job queue: one benchmark comparison of a head commit against its
-- merge-base with the base branch, run by an agent.
--
-- Life of a job:
--
--   queued -> running -> ingesting -> reported
--      ^         |             \----> failed
--      |         +-- lease expired, attempts left: back to queued
--      |         +-- lease expired, no attempts left: failed
--      |         +-- label removed or pull request closed: cancelled
--      +-- label added again to a finished job (reported, failed, cancelled)
--   queued -> superseded, when a push makes its head outdated
--
-- Every transition is one UPDATE that also sets `updated_at`.
CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    -- NULL for a job that does not come from a pull request (the CLI or API).
    pr_number bigint,
    -- The exact commit to benchmark, never a branch name, so that a push
    -- during the run cannot change what is measured.
    head_sha text NOT NULL,
    -- The branch the pull request targets; the agent benchmarks the
    -- merge-base of the head and this branch.
    base_ref text NOT NULL,
    -- The merge-base the agent computed, recorded when it reports (or sends
    -- it with a heartbeat). NULL until then.
    base_sha text,
    clone_url text NOT NULL,
    -- A ref that contains the head on the remote (`refs/pull/N/head`), which
    -- also serves heads from forks through the base repository.
    head_fetch_ref text,
    -- The GitHub App installation to act as when reporting; no foreign key,
    -- because a pull request event may arrive before its installation event.
    installation_id bigint,
    state text NOT NULL DEFAULT 'queued',
    -- The number of the latest attempt: it rises with every claim and is
    -- never reset, so an agent holding an earlier lease (even one from
    -- before a re-queue) can never pass for the current holder.
    attempt integer NOT NULL DEFAULT 0,
    -- The attempt after which an expired lease fails the job instead of
    -- re-queueing it. A (re-)queue sets it to `attempt` plus the configured
    -- maximum, so every run of the job gets the same number of tries.
    attempt_limit integer NOT NULL,
    -- The agent and asv machine of the latest attempt, kept after it ends.
    agent text,
    machine text,
    -- When the current lease ends without a heartbeat; set only while running.
    lease_expires_at timestamptz,
    -- Why the job failed or was cancelled, as a sentence for people.
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When the job last entered the queue; claims take the oldest first.
    queued_at timestamptz NOT NULL DEFAULT now(),
    -- When the latest attempt was claimed.
    started_at timestamptz,
    -- When the job reached reported, failed, cancelled or superseded.
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    CONSTRAINT jobs_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT jobs_state_valid CHECK (
        state IN ('queued', 'running', 'ingesting', 'reported', 'failed', 'cancelled', 'superseded')
    ),
    CONSTRAINT jobs_head_sha_format CHECK (head_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
    CONSTRAINT jobs_base_sha_format CHECK (base_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
    CONSTRAINT jobs_attempt_in_range CHECK (attempt >= 0 AND attempt <= attempt_limit),
    -- A lease exists exactly while an agent runs the job, which is what the
    -- expiry worker and heartbeats rely on.
    CONSTRAINT jobs_lease_while_running CHECK ((state = 'running') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT jobs_finished_when_final CHECK (
        (state IN ('reported', 'failed', 'cancelled', 'superseded')) = (finished_at IS NOT NULL)
    )
);

-- One job per pull request head: a storm of label events, a label removed
-- and added again, or the same event through two webhooks all land on this
-- row. Jobs without a pull request are not limited by it.
CREATE UNIQUE INDEX jobs_pull_request_head_key ON jobs (repository_id, pr_number, head_sha)
    WHERE pr_number IS NOT NULL;

-- Claims scan queued jobs oldest first.
CREATE INDEX jobs_queued ON jobs (queued_at, id) WHERE state = 'queued';

-- The expiry worker scans running jobs by lease end.
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
