-- A series is what a history chart draws: one benchmark, one parameter
-- combination, on one machine, in one environment. Each result row belongs
-- to exactly one series, so a chart or a "latest value" lookup is a range
-- scan on `results (series_id, committed_at)` instead of a join across runs,
-- machines and environments.
CREATE TABLE series (
    id bigint GENERATED ALWAYS AS IDENTITY,
    benchmark_id integer NOT NULL,
    machine_id integer NOT NULL,
    environment_id integer NOT NULL,
    -- The combination by value: the repr() string of each parameter, in
    -- parameter order, and an empty array for a benchmark without
    -- parameters. Storing values instead of a position in the cartesian
    -- product keeps a series correct when a benchmark gains, loses or
    -- reorders parameter values over its history: position 3 may mean a
    -- different combination in an older run, the values never do.
    params text[] NOT NULL DEFAULT '{}',
    CONSTRAINT series_pkey PRIMARY KEY (id),
    CONSTRAINT series_benchmark_fkey FOREIGN KEY (benchmark_id)
        REFERENCES benchmarks (id) ON DELETE CASCADE,
    CONSTRAINT series_machine_fkey FOREIGN KEY (machine_id)
        REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT series_environment_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- The benchmark comes first so that all series of one benchmark (one
    -- chart page with every machine and combination) are one range.
    CONSTRAINT series_identity_key UNIQUE (benchmark_id, machine_id, environment_id, params)
);
