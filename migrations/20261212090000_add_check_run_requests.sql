-- The request for a job's in-progress check run: the external id it used
-- and when a reporter made it. A reporter claims the request before it
-- asks GitHub, so replicas do not both create the run, and a reporter that
-- finds an older request searches GitHub for that run before creating
-- one, so a server that stopped before GitHub's answer arrived does not
-- leave a second run.
ALTER TABLE jobs
    ADD COLUMN check_run_requested text,
    ADD COLUMN check_run_requested_at timestamptz;
