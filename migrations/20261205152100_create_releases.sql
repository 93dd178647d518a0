-- Published releases, recorded by the webhook and resolved by a worker,
-- because finding the release's commit and the previous release needs
-- GitHub's API, which the webhook handler never calls.
--
--   pending -> queued     the commits are known and a release job is queued
--   pending -> skipped    nothing to compare with (the first release)
--   pending -> failed     GitHub kept failing; `error` says why
--
-- Once the release job reports, the reporter posts the commit comment and,
-- when something regressed, opens or updates the regression issue, whose
-- number it keeps here so later reports edit the same issue.
CREATE TABLE releases (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    tag text NOT NULL,
    installation_id bigint,
    clone_url text NOT NULL,
    -- Read from the delivery's `repository.default_branch`, never assumed.
    default_branch text NOT NULL,
    prerelease boolean NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    failures integer NOT NULL DEFAULT 0,
    retry_after timestamptz,
    error text,
    -- The release's commit and the previous release, once resolved.
    sha text,
    previous_tag text,
    previous_sha text,
    job_id bigint,
    -- The commit comment on the release's commit and the regression issue.
    comment_id bigint,
    issue_number bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT releases_pkey PRIMARY KEY (id),
    CONSTRAINT releases_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT releases_job_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE SET NULL,
    -- A release published twice (through two webhooks, or deleted and
    -- published again under the same tag) is one row.
    CONSTRAINT releases_tag_key UNIQUE (repository_id, tag),
    CONSTRAINT releases_state_valid CHECK (state IN ('pending', 'queued', 'skipped', 'failed')),
    CONSTRAINT releases_sha_format CHECK (sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
    CONSTRAINT releases_previous_sha_format CHECK (previous_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$')
);

-- The worker takes pending releases oldest first.
CREATE INDEX releases_pending ON releases (id) WHERE state = 'pending';
