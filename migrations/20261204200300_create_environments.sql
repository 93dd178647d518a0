-- One row per asv environment name of a repository, such as
-- `virtualenv-py3.10` or `conda-py3.11-numpy1.26`.
--
-- An environment belongs to the repository, not to a machine: asv derives the
-- name from the environment type, the Python version and the requirements, so
-- the same name on two machines means the same software.
CREATE TABLE environments (
    id integer GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    name text NOT NULL,
    -- The values from the most recently ingested results file. They describe
    -- the name rather than a single run, so keeping one copy is enough; each
    -- run keeps its own exact copy in `runs`.
    python text,
    requirements jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT environments_pkey PRIMARY KEY (id),
    CONSTRAINT environments_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT environments_repository_name_key UNIQUE (repository_id, name),
    CONSTRAINT environments_requirements_is_object CHECK (jsonb_typeof(requirements) = 'object')
);
