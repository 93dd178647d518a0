-- What pitot knows about each pull request it has seen a relevant event
-- for: whether the trigger label is on, whether the last posted result is
-- stale, and which comment is the sticky one.
CREATE TABLE pull_requests (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    number bigint NOT NULL,
    -- The newest head commit an event reported. Events can arrive out of
    -- order, so this is the head of the latest delivery, not a guarantee.
    head_sha text NOT NULL,
    base_ref text NOT NULL,
    -- Whether the trigger label is on, tracked from `labeled` and
    -- `unlabeled` events. A label added before pitot saw the pull request
    -- is unknown, so a push to such a pull request starts no run until
    -- someone labels it again.
    labelled boolean NOT NULL DEFAULT false,
    -- Set by a push (`synchronize`): the posted result no longer describes
    -- the head. The reporter clears it when it posts a result for the head.
    stale boolean NOT NULL DEFAULT false,
    -- The id of the sticky comment, once the reporter has created it, so
    -- that every later result edits the same comment.
    comment_id bigint,
    closed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pull_requests_pkey PRIMARY KEY (id),
    CONSTRAINT pull_requests_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT pull_requests_repository_number_key UNIQUE (repository_id, number),
    CONSTRAINT pull_requests_number_positive CHECK (number > 0),
    CONSTRAINT pull_requests_head_sha_format CHECK (head_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$')
);
