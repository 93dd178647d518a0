-- Every workflow run an earlier queueing of this actions job had, oldest
-- first. A job queued again keeps its title, `pitot job <id>`, so when
-- GitHub does not return the new run's id, an old run found by the title
-- or named by a late `workflow_run` delivery could pass for the new one.
-- Lookups and deliveries skip the runs listed here.
ALTER TABLE jobs ADD COLUMN earlier_workflow_run_ids bigint[] NOT NULL DEFAULT '{}';
