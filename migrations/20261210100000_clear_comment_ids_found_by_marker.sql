-- Until this migration, pitot matched its hidden markers in comments and
-- issues by any author. So a stored sticky comment id, release comment id
-- or regression issue number may name one that a stranger wrote, which
-- pitot would keep editing while the stranger can still rewrite it.
-- pitot edits a stored id without checking its author, so all of them are
-- cleared. The next report searches again, where only what pitot's own
-- account wrote can match, and stores the id it then writes to.
UPDATE pull_requests SET comment_id = NULL WHERE comment_id IS NOT NULL;
UPDATE releases SET comment_id = NULL, issue_number = NULL
WHERE comment_id IS NOT NULL OR issue_number IS NOT NULL;
