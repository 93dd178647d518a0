//! The hand-off from a stored agent report to ingest, comparison and the
//! pull request comment.
//!
//! A report's transaction stores the files and the log in `job_reports`,
//! moves the job to `ingesting` and sends a `pitot_report_stored`
//! notification (payload: the job id), all at commit. The next steps pick
//! the job up from there:
//!
//! * [`on_report_stored`] runs in the process that received the report,
//!   right after the commit;
//! * any process can `LISTEN pitot_report_stored`, or scan for jobs in
//!   `ingesting` (after a restart, for example), and read the report with
//!   `pitot_store::job_reports::latest_job_report` and `load_report_files`.
//!
//! The job's `error` column is set when the agent reported a failure. The
//! pipeline then posts that failure instead of a comparison and moves the
//! job to `failed`. After posting a comparison it moves the job to `reported`.

use crate::state::AppState;

/// Starts the steps after a report for `job_id` is committed. It runs on the
/// request path, so it must return at once and leave real work to a task or worker.
pub fn on_report_stored(_state: &AppState, job_id: i64) {
    // TODO: ingest the results, compare, and hand the job to the reporter.
    // Until then the job stays in `ingesting` with its report stored.
    tracing::debug!(
        job_id,
        "report stored; ingest and reporting are not implemented yet"
    );
}
