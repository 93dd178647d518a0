-- A job may run part of the suite: `/pitot run --bench REGEX` stores the
-- regular expression, which the agent passes to `asv continuous --bench`.
-- NULL runs every benchmark.
ALTER TABLE jobs ADD COLUMN bench text;

-- Commands that maintainers write in pull request comments (`/pitot run`,
-- `/pitot rerun`, `/pitot cancel`). The webhook records each one in the
-- delivery's transaction. A worker carries it out, because that needs
-- GitHub's API: the pull request's current head, a reaction on the
-- comment, or a reply with the usage for a malformed command.
--
--   pending -> done       carried out, the reaction or reply written
--   pending -> failed     GitHub kept failing; `error` says why
CREATE TABLE pull_request_commands (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    pr_number bigint NOT NULL,
    installation_id bigint,
    -- The comment that holds the command. A comment is one command, also
    -- when its delivery arrives twice through two webhooks.
    comment_id bigint NOT NULL,
    author text NOT NULL,
    -- `run`, `rerun` or `cancel`; NULL for a malformed command, which is
    -- answered with the usage.
    command text,
    bench text,
    -- Why a malformed command could not be read, for the reply.
    problem text,
    clone_url text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    -- Failed tries, and the time before which the worker leaves the row.
    failures integer NOT NULL DEFAULT 0,
    retry_after timestamptz,
    error text,
    -- The job the command queued or queued again.
    job_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT pull_request_commands_pkey PRIMARY KEY (id),
    CONSTRAINT pull_request_commands_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT pull_request_commands_comment_key UNIQUE (comment_id),
    CONSTRAINT pull_request_commands_command_valid CHECK (command IN ('run', 'rerun', 'cancel')),
    CONSTRAINT pull_request_commands_malformed_has_problem CHECK ((command IS NULL) = (problem IS NOT NULL)),
    CONSTRAINT pull_request_commands_state_valid CHECK (state IN ('pending', 'done', 'failed'))
);

-- The worker takes pending commands oldest first.
CREATE INDEX pull_request_commands_pending ON pull_request_commands (id) WHERE state = 'pending';

-- A delivery whose comment held a command records it.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_outcome_valid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_outcome_valid CHECK (
    outcome IN ('received', 'ignored', 'job_queued', 'job_requeued', 'job_unchanged',
                'jobs_cancelled', 'marked_stale', 'installation_updated', 'command_recorded')
);
