-- The columns of confirmation jobs.
--
-- A confirm job belongs to one run (attempt) of a pull request job, its
-- parent. It has no `pr_number`, so the unique index on pull request heads
-- and every query on a pull request's own jobs leave it alone, and it
-- carries the parent's merge-base in `base_sha`, so `jobs_explicit_base`
-- holds and the agent compares the two exact commits of the first run.
ALTER TABLE jobs
    ADD COLUMN parent_job_id bigint,
    -- The parent's attempt when the confirmation was queued. A parent
    -- queued again (`/pitot rerun`) starts a new attempt and so gets a
    -- confirmation of its own instead of the previous run's.
    ADD COLUMN parent_attempt integer,
    -- The asv machine that must run the job; NULL lets any agent claim
    -- it. A confirmation must run where the regression was measured,
    -- because results are only comparable within one machine.
    ADD COLUMN required_machine text,
    -- asv's `rounds` for every benchmark of the run (`asv continuous
    -- --attribute rounds=N`); NULL keeps each benchmark's own setting.
    ADD COLUMN rounds integer,
    ADD CONSTRAINT jobs_parent_fkey FOREIGN KEY (parent_job_id)
        REFERENCES jobs (id) ON DELETE CASCADE,
    ADD CONSTRAINT jobs_confirm_has_parent CHECK (
        (kind = 'confirm') = (parent_job_id IS NOT NULL AND parent_attempt IS NOT NULL)
    ),
    ADD CONSTRAINT jobs_rounds_positive CHECK (rounds > 0);

-- One confirmation per run of a parent: a reporter that retries after a
-- GitHub error finds the job it queued before instead of adding another.
-- The reporter also looks up a parent's confirmation through it.
CREATE UNIQUE INDEX jobs_confirm_parent_key ON jobs (parent_job_id, parent_attempt)
    WHERE kind = 'confirm';
