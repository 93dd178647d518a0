-- One row per benchmark machine of a repository, as named by `machine.json`
-- and by the `machine` field of each results file.
CREATE TABLE machines (
    id integer GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    name text NOT NULL,
    -- asv leaves machine.json free-form (`ram` may be `16GB`, `8.2G` or a
    -- number), so the fields are kept as one JSON object of strings instead of
    -- typed columns that real files would not fit. A machine first seen in a
    -- results file, before its machine.json, has an empty object.
    info jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT machines_pkey PRIMARY KEY (id),
    CONSTRAINT machines_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT machines_repository_name_key UNIQUE (repository_id, name),
    CONSTRAINT machines_info_is_object CHECK (jsonb_typeof(info) = 'object')
);
