-- The repositories an installation grants the App access to, kept by
-- `installation` (all repositories on `created` and `deleted`) and
-- `installation_repositories` (`added`, `removed`) events.
--
-- A granted repository gets a `repositories` row at once, so later webhook
-- deliveries and results for it find the same id.
CREATE TABLE installation_repositories (
    installation_id bigint NOT NULL,
    repository_id integer NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT installation_repositories_pkey PRIMARY KEY (installation_id, repository_id),
    CONSTRAINT installation_repositories_installation_fkey FOREIGN KEY (installation_id)
        REFERENCES installations (id) ON DELETE CASCADE,
    CONSTRAINT installation_repositories_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE
);

-- Finding the installation to act as for a repository goes this way round.
CREATE INDEX installation_repositories_repository ON installation_repositories (repository_id);
