-- When a workflow dispatch of this queued actions job failed in a way
-- that may still have started a run: the request timed out, or GitHub
-- answered with a server error. Before dispatching again, the Actions
-- worker looks for a run titled with the job's id created since then and
-- takes it over, so that one failed response does not start two runs.
-- Null once a dispatch succeeds.
ALTER TABLE jobs ADD COLUMN dispatch_uncertain_at timestamptz;
