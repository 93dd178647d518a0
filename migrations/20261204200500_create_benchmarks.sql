-- One row per benchmark name of a repository, from `benchmarks.json` or from
-- a results file that names it.
--
-- `benchmarks.json` describes only the newest suite, so older results name
-- benchmarks it lacks. Those rows are created with `kind` and `unit` NULL,
-- meaning unknown: the name prefix (`time_`, `mem_`) is not used to guess
-- them, because a benchmark class may set its own type and unit. A later
-- `benchmarks.json` that lists the benchmark fills them in.
CREATE TABLE benchmarks (
    id integer GENERATED ALWAYS AS IDENTITY,
    repository_id integer NOT NULL,
    name text NOT NULL,
    -- asv's `type`: time, memory, peakmemory, track, or another type a plugin
    -- defines; kept as text so an unknown type is stored, not rejected.
    kind text,
    unit text,
    -- Parameter names and values of the newest suite. Values are the repr()
    -- strings asv writes, one list per parameter. The lists may have
    -- different lengths, which a Postgres two-dimensional array cannot hold,
    -- so they are JSON. Results never index into these lists: each run keeps
    -- the parameters it ran with (`run_benchmarks.params`), and each series
    -- names its combination by value (`series.params`).
    param_names text[],
    params jsonb,
    -- The version hash asv computed for the newest suite.
    version text,
    CONSTRAINT benchmarks_pkey PRIMARY KEY (id),
    CONSTRAINT benchmarks_repository_fkey FOREIGN KEY (repository_id)
        REFERENCES repositories (id) ON DELETE CASCADE,
    CONSTRAINT benchmarks_repository_name_key UNIQUE (repository_id, name),
    CONSTRAINT benchmarks_params_is_array CHECK (params IS NULL OR jsonb_typeof(params) = 'array')
);
