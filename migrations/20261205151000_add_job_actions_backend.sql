-- Jobs that a GitHub Actions workflow runs instead of a `pitot agent`.
--
-- `backend` is chosen when the job is queued, from the repository's
-- configuration, and agents claim only `agent` jobs. An `actions` job moves
-- queued -> running when pitot dispatches the workflow, and running ->
-- ingesting (or failed) once the run completed and its artifact was read.
ALTER TABLE jobs
    ADD COLUMN backend text NOT NULL DEFAULT 'agent',
    -- The ref to dispatch the workflow on, from the webhook payload's
    -- `repository.default_branch`. NULL when the event did not carry it;
    -- the dispatcher then reads it from GitHub.
    ADD COLUMN dispatch_ref text,
    -- The workflow run that runs the current attempt. NULL until GitHub
    -- returns it from the dispatch or the run is found by its name
    -- (`pitot job <id>`), which GitHub needs a few seconds to list.
    ADD COLUMN workflow_run_id bigint,
    -- When the workflow was dispatched, which the polling fallback measures
    -- from, and when pitot last asked GitHub about the run.
    ADD COLUMN dispatched_at timestamptz,
    ADD COLUMN workflow_polled_at timestamptz,
    -- The run's `conclusion` once it completed (`success`, `failure`,
    -- `cancelled`, `timed_out`, ...), from the `workflow_run` webhook or the
    -- polling. The collector downloads the artifact of a job that has one.
    ADD COLUMN workflow_conclusion text,
    ADD CONSTRAINT jobs_backend_valid CHECK (backend IN ('agent', 'actions'));

-- An actions job runs without a lease: nobody sends heartbeats, and the
-- workflow's own `timeout-minutes` bounds the run. The lease rule now holds
-- for agent jobs only.
ALTER TABLE jobs DROP CONSTRAINT jobs_lease_while_running;
ALTER TABLE jobs ADD CONSTRAINT jobs_lease_while_running CHECK (
    (state = 'running' AND backend = 'agent') = (lease_expires_at IS NOT NULL)
);

-- The webhook finds a job by its run id.
CREATE INDEX jobs_workflow_run ON jobs (workflow_run_id) WHERE workflow_run_id IS NOT NULL;

-- The dispatcher and the collector scan the actions jobs that wait for them.
CREATE INDEX jobs_actions_pending ON jobs (queued_at, id)
    WHERE backend = 'actions' AND state IN ('queued', 'running');
