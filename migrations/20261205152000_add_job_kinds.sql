-- Jobs that do not come from a pull request: `history` benchmarks a commit
-- pushed to the default branch against the commit before the push, and
-- `release` benchmarks a release's commit against the previous release's.
-- Both know their base commit when they are queued, so the agent runs
-- `asv continuous BASE HEAD` on the two exact commits and computes no
-- merge-base. `base_sha` is therefore set at insert for them.
ALTER TABLE jobs
    ADD COLUMN kind text NOT NULL DEFAULT 'pull_request',
    -- The release's tag, for release jobs.
    ADD COLUMN release_tag text,
    ADD CONSTRAINT jobs_kind_valid CHECK (kind IN ('pull_request', 'history', 'release')),
    ADD CONSTRAINT jobs_explicit_base CHECK (
        kind = 'pull_request' OR (pr_number IS NULL AND base_sha IS NOT NULL)
    ),
    ADD CONSTRAINT jobs_release_has_tag CHECK ((kind = 'release') = (release_tag IS NOT NULL));

-- One history job per commit: the same push through two webhooks, or a
-- commit pushed again after a revert, is benchmarked once.
CREATE UNIQUE INDEX jobs_history_head_key ON jobs (repository_id, head_sha) WHERE kind = 'history';

-- One release job per tag.
CREATE UNIQUE INDEX jobs_release_tag_key ON jobs (repository_id, release_tag) WHERE kind = 'release';

-- The history and release reporter looks for jobs whose results are not
-- ingested yet; pull request jobs have their own indexes.
CREATE INDEX jobs_without_pull_request_pending ON jobs (updated_at, id)
    WHERE kind <> 'pull_request' AND github_synced IS DISTINCT FROM 'completed'
      AND state IN ('ingesting', 'failed');

-- A delivery can now queue a history job or record a release.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_outcome_valid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_outcome_valid CHECK (
    outcome IN ('received', 'ignored', 'job_queued', 'job_requeued', 'job_unchanged',
                'jobs_cancelled', 'marked_stale', 'installation_updated', 'command_recorded',
                'workflow_run_completed', 'release_recorded')
);
