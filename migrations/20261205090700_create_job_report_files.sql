-- The asv results files of a report, one row each, as text. The ingest
-- hashes a file's exact bytes to detect repeats, so the content is stored
-- as sent rather than as jsonb.
CREATE TABLE job_report_files (
    report_id bigint NOT NULL,
    -- Relative to asv's results folder: `<machine>/<file>.json`.
    path text NOT NULL,
    content text NOT NULL,
    CONSTRAINT job_report_files_pkey PRIMARY KEY (report_id, path),
    CONSTRAINT job_report_files_report_fkey FOREIGN KEY (report_id)
        REFERENCES job_reports (id) ON DELETE CASCADE
);
