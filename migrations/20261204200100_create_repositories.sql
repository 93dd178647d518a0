-- One row per project whose benchmarks pitot stores, named `owner/name` as
-- on GitHub (or `local/<folder>` for a project imported from disk).
--
-- Ids are `integer`: a deployment holds a handful of repositories, and the
-- smaller key keeps the tables that reference it narrow.
CREATE TABLE repositories (
    id integer GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT repositories_pkey PRIMARY KEY (id),
    -- The Rust side validates the full form; this only keeps hand-written
    -- rows from breaking the `owner/name` shape that lookups rely on.
    CONSTRAINT repositories_name_format CHECK (name ~ '^[^/]+/[^/]+$')
);

-- GitHub treats `Django/Django` and `django/django` as the same repository,
-- so uniqueness and lookups are on the lower-cased name while the row keeps
-- the spelling it was first created with.
CREATE UNIQUE INDEX repositories_name_key ON repositories (lower(name));
