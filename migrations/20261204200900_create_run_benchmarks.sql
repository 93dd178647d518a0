-- One row per benchmark entry of a results file: what asv records once per
-- benchmark rather than once per parameter combination.
CREATE TABLE run_benchmarks (
    run_id bigint NOT NULL,
    benchmark_id integer NOT NULL,
    -- The parameter values this run used, one list of repr() strings per
    -- parameter, exactly as the file lists them. Together with
    -- `results.combination` this rebuilds the file's rows in their original
    -- order even after the suite's parameters have changed. JSON because the
    -- lists may differ in length.
    params jsonb NOT NULL DEFAULT '[]',
    version_id integer,
    started_at timestamptz,
    -- Seconds the benchmark ran, all combinations together.
    duration double precision,
    CONSTRAINT run_benchmarks_pkey PRIMARY KEY (run_id, benchmark_id),
    CONSTRAINT run_benchmarks_run_fkey FOREIGN KEY (run_id)
        REFERENCES runs (id) ON DELETE CASCADE,
    CONSTRAINT run_benchmarks_benchmark_fkey FOREIGN KEY (benchmark_id)
        REFERENCES benchmarks (id) ON DELETE CASCADE,
    CONSTRAINT run_benchmarks_version_fkey FOREIGN KEY (version_id)
        REFERENCES benchmark_versions (id),
    CONSTRAINT run_benchmarks_params_is_array CHECK (jsonb_typeof(params) = 'array')
);
