-- One row per commit of a repository that has at least one run.
CREATE TABLE commits (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    -- The "C" collation makes the unique index usable for `sha LIKE 'abc%'`,
    -- which is how a short sha typed by a user is resolved.
    sha text COLLATE "C" NOT NULL,
    -- asv's `date`: the commit date, not the time of the run. NULL when no
    -- results file gave one.
    committed_at timestamptz,
    CONSTRAINT commits_pkey PRIMARY KEY (id),
    CONSTRAINT commits_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT commits_repository_sha_key UNIQUE (repository_id, sha),
    -- Full lower-case hashes only: 40 hex digits for git (SHA-1) and Mercurial,
    -- 64 for git's SHA-256 object format. Prefixes are resolved, never stored.
    CONSTRAINT commits_sha_format CHECK (sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$')
);
