//! Storing a finished attempt's report, the same way for an agent's report
//! (`POST /api/agent/jobs/{job_id}/report`) and for the artifact of a
//! GitHub Actions run: the report and its files, then the job moves to
//! `ingesting` and the reporter is notified.

use std::collections::HashSet;

use anyhow::Context as _;
use pitot_runner::api::{JobOutcome, ReportRequest};
use pitot_store::job_reports::{self, NewJobReport};
use pitot_store::jobs;

use crate::agent_api::check_name;
use crate::error::AppError;

/// Stores the report and moves the job to `ingesting`; returns the seconds
/// since the attempt was claimed.
///
/// A report whose results the ingest could not store (see
/// [`unstorable_reason`]) is stored as a failed attempt, with its log but
/// without its files, so that the pull request learns why at once. A 400
/// response would make the agent drop the report, and the job would run
/// again after its lease expired, to the same end.
pub(crate) async fn store_report(
    conn: &mut sqlx::PgConnection,
    job_id: i64,
    report: &ReportRequest,
) -> Result<f64, AppError> {
    let unstorable = unstorable_reason(report);
    let (outcome, report_error) = match &unstorable {
        Some(reason) => {
            tracing::warn!(job_id, attempt = report.attempt, reason, "the report's results cannot be stored, so the attempt fails");
            (JobOutcome::Failed, Some(reason.as_str()))
        }
        None => (report.outcome, report.error.as_deref()),
    };
    let stored = unstorable.is_none();
    let new_report = NewJobReport {
        job_id,
        attempt: report.attempt,
        outcome: outcome_name(outcome),
        machine: &report.machine,
        head_sha: &report.head_sha,
        base_sha: report.base_sha.as_deref(),
        benchmarks_json: report.benchmarks_json.as_deref().filter(|_| stored),
        log: &report.log,
        error: report_error,
    };
    let report_id = job_reports::insert_job_report(&mut *conn, &new_report)
        .await?
        .context("the running job's attempt already has a report")?;
    let mut files: Vec<(&str, &str)> = Vec::new();
    if stored {
        files.extend(report.results.iter().map(|file| (file.path.as_str(), file.content.as_str())));
    }
    job_reports::insert_report_files(&mut *conn, report_id, &files).await?;

    let error = match outcome {
        JobOutcome::Completed => None,
        JobOutcome::Failed => Some(report_error.unwrap_or("the agent reported a failure without a reason")),
    };
    let run_seconds = jobs::mark_job_ingesting(
        &mut *conn,
        job_id,
        report.attempt,
        report.base_sha.as_deref(),
        error,
    )
    .await?;
    let Some(run_seconds) = run_seconds else {
        // The row is locked and was checked to be running under this attempt.
        return Err(anyhow::anyhow!("job {job_id} left the running state while locked").into());
    };
    job_reports::notify_report_stored(&mut *conn, job_id).await?;
    Ok(run_seconds)
}

pub(crate) fn outcome_name(outcome: JobOutcome) -> &'static str {
    match outcome {
        JobOutcome::Completed => "completed",
        JobOutcome::Failed => "failed",
    }
}

/// Checks what the database cannot store or what the ingest must be able to
/// trust: NUL characters (PostgreSQL text rejects them), file paths that
/// could leave the results folder, and duplicate paths.
pub(crate) fn check_report(report: &ReportRequest) -> Result<(), AppError> {
    check_name("machine", &report.machine)?;
    let texts = [
        ("log", Some(report.log.as_str())),
        ("benchmarks_json", report.benchmarks_json.as_deref()),
        ("error", report.error.as_deref()),
    ];
    for (field, text) in texts {
        if text.is_some_and(|text| text.contains('\0')) {
            return Err(AppError::BadRequest(format!(
                "{field} contains a NUL character"
            )));
        }
    }

    let mut seen = HashSet::new();
    for file in &report.results {
        let path = file.path.as_str();
        let safe = !path.is_empty()
            && path.len() <= 255
            && !path.starts_with('/')
            && !path.contains('\\')
            && !path.contains('\0')
            && path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !safe {
            return Err(AppError::BadRequest(format!(
                "invalid results path {path:?}: expected a relative path such as <machine>/<file>.json"
            )));
        }
        if file.content.contains('\0') {
            return Err(AppError::BadRequest(format!(
                "results file {path:?} contains a NUL character"
            )));
        }
        if !seen.insert(path) {
            return Err(AppError::BadRequest(format!(
                "results path {path:?} appears twice"
            )));
        }
    }
    Ok(())
}

/// Returns why the ingest could not store the report's results, if it
/// could not: a JSON document whose text escapes a NUL character as
/// `\u0000`. The document is stored as sent, but the ingest stores its
/// decoded strings, and PostgreSQL rejects a NUL in text and JSON.
fn unstorable_reason(report: &ReportRequest) -> Option<String> {
    let documents = report
        .benchmarks_json
        .iter()
        .map(|text| ("benchmarks.json", text.as_str()))
        .chain(report.results.iter().map(|file| (file.path.as_str(), file.content.as_str())));
    for (path, text) in documents {
        if let Some(offset) = escaped_nul_offset(text) {
            return Some(format!(
                "the report's file {path:?} contains the escape \\u0000 (a NUL character) at byte {offset}, \
                 which PostgreSQL cannot store in text. Remove the NUL characters from the file's \
                 strings, such as benchmark parameter values."
            ));
        }
    }
    None
}

/// Returns the byte offset of the first `\u0000` escape in the JSON text
/// `json`, which a parser decodes to a NUL character. In `\\u0000` the
/// backslash is escaped, so that text is not a NUL.
fn escaped_nul_offset(json: &str) -> Option<usize> {
    let bytes = json.as_bytes();
    let mut index = 0;
    while let Some(found) = bytes[index..].iter().position(|&byte| byte == b'\\') {
        let start = index + found;
        if bytes[start + 1..].starts_with(b"u0000") {
            return Some(start);
        }
        // Skip the escaped character, so the second backslash of `\\`
        // does not start an escape.
        index = (start + 2).min(bytes.len());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nul_offset_reads_escapes() {
        let cases = [
            ("escaped NUL", r#"{"a": "x\u0000"}"#, Some(8)),
            ("NUL after an escaped backslash", r#"["\\\u0000"]"#, Some(4)),
            ("NUL then a digit", r#"["\u00001"]"#, Some(2)),
            ("escaped backslash, then u0000", r#"["\\u0000"]"#, None),
            ("two escaped backslashes", r#"["\\\\u0000"]"#, None),
            ("other control character", r#"["\u0001"]"#, None),
            ("quote escape", r#"["\"u0000"]"#, None),
            ("trailing backslash", "\\", None),
            ("no escapes", r#"{"a": 1}"#, None),
        ];

        for (case, json, expected) in cases {
            assert_eq!(escaped_nul_offset(json), expected, "{case}");
        }
    }
}
