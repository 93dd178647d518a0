-- Benchmarks that a maintainer has quarantined: a noisy benchmark is still
-- reported but never fails the check, and an ignored one is only counted.
-- A quarantine names the benchmark without parameters, so it covers every
-- parameter combination, machine and environment of it. It names the
-- benchmark by text rather than by `benchmarks.id`, because a maintainer
-- may quarantine a benchmark that a pull request adds before any result of
-- it is stored.
--
-- Rows are history: lifting a quarantine or replacing it sets `lifted_at`
-- and `lifted_by` and keeps the row, so the dashboard can show who
-- quarantined what and when. A row is active while it is not lifted and
-- `expires_at` is NULL or later than now(); an expired row needs no update,
-- because every query compares `expires_at` with now().
CREATE TABLE quarantines (
    id bigint GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    -- The full asv name, such as `bench_io.ReadSuite.time_read`.
    benchmark text NOT NULL,
    -- `noisy`: reported, never fails the check. `ignored`: left out of the
    -- comment's tables and counted in its summary line.
    kind text NOT NULL,
    reason text NOT NULL,
    expires_at timestamptz,
    -- The API token's name, or `github:<login>` for a pull request command.
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    lifted_at timestamptz,
    lifted_by text,
    CONSTRAINT quarantines_pkey PRIMARY KEY (id),
    CONSTRAINT quarantines_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT quarantines_kind_valid CHECK (kind IN ('noisy', 'ignored')),
    CONSTRAINT quarantines_benchmark_not_empty CHECK (btrim(benchmark) <> ''),
    CONSTRAINT quarantines_reason_not_empty CHECK (btrim(reason) <> ''),
    CONSTRAINT quarantines_created_by_not_empty CHECK (created_by <> ''),
    CONSTRAINT quarantines_lifted_together CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);

-- At most one unlifted quarantine per benchmark. A partial index cannot
-- compare with now(), so an expired but unlifted row still holds the slot:
-- setting a new quarantine lifts it first, in the same transaction.
CREATE UNIQUE INDEX quarantines_one_unlifted
    ON quarantines (repository_id, benchmark) WHERE lifted_at IS NULL;
