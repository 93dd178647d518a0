-- Change points found in a series' default-branch history, with the triage
-- state people give them. The name says "regressions" because that is what
-- people triage, but a change point can be an improvement too, so each row
-- stores its direction.
--
-- Detection runs again after every history job, and a step found earlier
-- is usually found again at the same commit. Rows are keyed by series and
-- the first commit after the step, so re-detection updates the numbers of
-- the existing row and never resets its triage.
CREATE TABLE regressions (
    id bigint GENERATED ALWAYS AS IDENTITY,
    -- A copy of the series' repository, so the per-repository list needs no
    -- join through benchmarks.
    repository_id integer NOT NULL,
    series_id bigint NOT NULL,
    -- The commit range that introduced the change: the last commit of the
    -- history before it and the first one after it. Commits between the
    -- two were not benchmarked.
    before_commit_id bigint NOT NULL,
    after_commit_id bigint NOT NULL,
    -- The means of the segments on either side, between the neighbouring
    -- change points, in the benchmark's unit.
    mean_before double precision NOT NULL,
    mean_after double precision NOT NULL,
    -- mean_after / mean_before; NULL when mean_before is 0.
    ratio double precision,
    -- The Bonferroni-adjusted p-value of Welch's t-test between the segments.
    p_value double precision NOT NULL,
    -- Whether the benchmark got worse or better, by the benchmark's
    -- direction (lower is better for time and memory, and for track
    -- benchmarks unless the unit reads as a rate).
    direction text NOT NULL,
    -- False once a later detection no longer finds the step, for example
    -- because more results showed it was noise. The row stays, with its
    -- triage, and becomes current again if the step is found again.
    current boolean NOT NULL DEFAULT true,
    detected_at timestamptz NOT NULL DEFAULT now(),
    last_detected_at timestamptz NOT NULL DEFAULT now(),
    -- The triage state and who set it last, when and why. The name is the
    -- API token's name.
    state text NOT NULL DEFAULT 'untriaged',
    state_changed_by text,
    state_changed_at timestamptz,
    note text,
    CONSTRAINT regressions_pkey PRIMARY KEY (id),
    CONSTRAINT regressions_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT regressions_series_fkey FOREIGN KEY (series_id)
        REFERENCES series (id) ON DELETE CASCADE,
    CONSTRAINT regressions_before_commit_fkey FOREIGN KEY (before_commit_id)
        REFERENCES commits (id) ON DELETE CASCADE,
    CONSTRAINT regressions_after_commit_fkey FOREIGN KEY (after_commit_id)
        REFERENCES commits (id) ON DELETE CASCADE,
    CONSTRAINT regressions_series_after_commit_key UNIQUE (series_id, after_commit_id),
    CONSTRAINT regressions_direction_valid CHECK (direction IN ('worse', 'better')),
    CONSTRAINT regressions_state_valid CHECK (
        state IN ('untriaged', 'acknowledged', 'investigating', 'fixed', 'wont_fix', 'false_alarm')
    )
);

-- The repository's list, newest first, and the release report's range
-- both start from the repository.
CREATE INDEX regressions_repository ON regressions (repository_id, after_commit_id);
