-- One row per asv results file: one repository, machine, environment and
-- commit. Ingesting a file for an identity that already has a run replaces
-- that run's results, because asv itself overwrites the file when it
-- benchmarks the same commit again.
CREATE TABLE runs (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    machine_id integer NOT NULL,
    environment_id integer NOT NULL,
    commit_id bigint NOT NULL,
    -- The results file format: 1 (asv before 0.5) or 2.
    schema_version smallint NOT NULL,
    -- SHA-256 of the file's exact bytes. Ingesting bytes with the same hash
    -- again is a no-op, which makes re-imports cheap and idempotent.
    file_sha256 bytea NOT NULL,
    -- The earliest benchmark start and the latest benchmark end recorded in
    -- the file; NULL when the file records no times (schema 1 often does not).
    started_at timestamptz,
    ended_at timestamptz,
    -- Environment setup times in seconds, such as `<build>`, as asv's
    -- `durations` object.
    durations jsonb NOT NULL DEFAULT '{}',
    -- The run's own copy of what the file said about its environment, so
    -- that a stored run can be rebuilt as the file it came from.
    python text,
    requirements jsonb NOT NULL DEFAULT '{}',
    env_vars jsonb NOT NULL DEFAULT '{}',
    machine_params jsonb NOT NULL DEFAULT '{}',
    ingested_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_pkey PRIMARY KEY (id),
    CONSTRAINT runs_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT runs_machine_fkey FOREIGN KEY (machine_id)
        REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT runs_environment_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT runs_commit_fkey FOREIGN KEY (commit_id)
        REFERENCES commits (id) ON DELETE CASCADE,
    -- The repository is implied by the machine, so it is not part of the
    -- key. The commit comes first because `load_commit` and the comparison
    -- engine look runs up by commit.
    CONSTRAINT runs_identity_key UNIQUE (commit_id, machine_id, environment_id),
    CONSTRAINT runs_schema_version_known CHECK (schema_version IN (1, 2)),
    CONSTRAINT runs_file_sha256_length CHECK (octet_length(file_sha256) = 32)
);
