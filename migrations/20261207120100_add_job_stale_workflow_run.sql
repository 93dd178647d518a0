-- The workflow run of an earlier queueing of the job that pitot still has
-- to cancel. A job cancelled while its run went on, and queued again
-- before the Actions worker's cancel step reached that run, would lose
-- the run's id, because queueing clears the workflow columns; it is kept
-- here, and the dispatch of the job's next run cancels it first.
ALTER TABLE jobs ADD COLUMN stale_workflow_run_id bigint;
