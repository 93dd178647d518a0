-- When the latest workflow dispatch of this queued actions job failed in
-- a way that may still have started a run: the request timed out, or
-- GitHub returned a server error. `base_sha` then holds the merge-base
-- that dispatch sent. Before dispatching again, the Actions worker looks
-- for a run titled with the job's id created since then and takes it
-- over, so that one failed response does not start two runs. Null once a
-- dispatch succeeds, and when a finished job is queued again.
ALTER TABLE jobs ADD COLUMN dispatch_uncertain_at timestamptz;
