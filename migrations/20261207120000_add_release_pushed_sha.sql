-- Releases can be recorded from a tag push as well as from a published
-- release. `pushed_sha` is the object the push set the tag to: the commit
-- for a lightweight tag, the tag object for an annotated one, which the
-- release worker peels to its commit. Keeping the pushed object, rather
-- than the tag's name, pins the report to what was pushed even if the tag
-- moves later. NULL for a release recorded from a `release` delivery,
-- whose tag the worker resolves by name.
ALTER TABLE releases
    ADD COLUMN pushed_sha text,
    ADD CONSTRAINT releases_pushed_sha_format CHECK (pushed_sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$');
