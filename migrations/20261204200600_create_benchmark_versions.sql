-- The distinct version hashes each benchmark has had, so that a result row
-- refers to its version by a 4-byte id instead of repeating a 64-character
-- hash. A benchmark has few versions (152 across the 256,000 values of the
-- django-asv history), so this table stays tiny.
--
-- asv treats two results of different versions as not comparable, so the
-- history queries need the version of every point, and the id is small
-- enough to be carried in the history index.
CREATE TABLE benchmark_versions (
    id integer GENERATED ALWAYS AS IDENTITY,
    benchmark_id integer NOT NULL,
    version text NOT NULL,
    CONSTRAINT benchmark_versions_pkey PRIMARY KEY (id),
    CONSTRAINT benchmark_versions_benchmark_fkey FOREIGN KEY (benchmark_id)
        REFERENCES benchmarks (id) ON DELETE CASCADE,
    CONSTRAINT benchmark_versions_benchmark_version_key UNIQUE (benchmark_id, version)
);
