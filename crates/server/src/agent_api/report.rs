//! `POST /api/agent/jobs/{job_id}/report`: storing what an agent sends at
//! the end of an attempt.

use std::collections::HashSet;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::Json;
use pitot_runner::api::{JobOutcome, ReportRequest};
use pitot_store::job_reports::{self, NewJobReport};
use pitot_store::jobs::{self, JobState};
use serde_json::{json, Value};
use tracing::instrument;

use super::{check_name, lease_lost, Agent, JsonBody};
use crate::error::AppError;
use crate::state::AppState;

/// Stores the report and its files, moves the job to `ingesting` and hands
/// it to the reporter (see `crate::reporter`). A repeated report for the same attempt is accepted
/// and changes nothing.
#[instrument(skip_all, fields(agent = %agent.name, job_id, attempt))]
pub async fn report(
    State(state): State<AppState>,
    agent: Agent,
    Path(job_id): Path<i64>,
    JsonBody(report): JsonBody<ReportRequest>,
) -> Result<Json<Value>, AppError> {
    let span = tracing::Span::current();
    span.record("job_id", job_id);
    span.record("attempt", report.attempt);
    check_report(&report)?;

    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start the report's transaction")?;
    let status = jobs::lock_job(&mut *tx, job_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("job {job_id} not found")))?;
    if !report.head_sha.eq_ignore_ascii_case(&status.head_sha) {
        return Err(AppError::BadRequest(format!(
            "head_sha {:?} is not the head of job {job_id}, {}",
            report.head_sha, status.head_sha
        )));
    }
    let holds_attempt =
        status.attempt == report.attempt && status.agent.as_deref() == Some(agent.name.as_str());
    if !holds_attempt {
        return Err(lease_lost(job_id, report.attempt));
    }

    match status.state {
        JobState::Running => {}
        JobState::Cancelled | JobState::Superseded => {
            return Err(AppError::Conflict(format!(
                "job {job_id} was cancelled; its report is not needed"
            )));
        }
        _ => {
            // The agent retries a report whose response it did not get.
            if job_reports::report_exists(&mut *tx, job_id, report.attempt).await? {
                tracing::debug!("report was stored before; nothing to do");
                return Ok(Json(json!({ "stored": false })));
            }
            return Err(lease_lost(job_id, report.attempt));
        }
    }

    let run_seconds = store_report(&mut tx, job_id, &report).await?;
    tx.commit().await.context("failed to commit the report")?;
    state.metrics.observe_run(run_seconds);
    tracing::info!(
        outcome = outcome_name(report.outcome),
        files = report.results.len(),
        run_seconds,
        "report stored"
    );

    // Other processes hear of it through the NOTIFY sent at commit.
    state.reporter_wake.wake();
    Ok(Json(json!({ "stored": true })))
}

/// Stores the report and moves the job to `ingesting`; returns the seconds
/// since the attempt was claimed.
async fn store_report(
    conn: &mut sqlx::PgConnection,
    job_id: i64,
    report: &ReportRequest,
) -> Result<f64, AppError> {
    let new_report = NewJobReport {
        job_id,
        attempt: report.attempt,
        outcome: outcome_name(report.outcome),
        machine: &report.machine,
        head_sha: &report.head_sha,
        base_sha: report.base_sha.as_deref(),
        benchmarks_json: report.benchmarks_json.as_deref(),
        log: &report.log,
        error: report.error.as_deref(),
    };
    let report_id = job_reports::insert_job_report(&mut *conn, &new_report)
        .await?
        .context("the running job's attempt already has a report")?;
    let files: Vec<(&str, &str)> = report
        .results
        .iter()
        .map(|file| (file.path.as_str(), file.content.as_str()))
        .collect();
    job_reports::insert_report_files(&mut *conn, report_id, &files).await?;

    let error = match report.outcome {
        JobOutcome::Completed => None,
        JobOutcome::Failed => Some(
            report
                .error
                .as_deref()
                .unwrap_or("the agent reported a failure without a reason"),
        ),
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

fn outcome_name(outcome: JobOutcome) -> &'static str {
    match outcome {
        JobOutcome::Completed => "completed",
        JobOutcome::Failed => "failed",
    }
}

/// Checks what the database cannot store or what the ingest must be able to
/// trust: NUL characters (PostgreSQL text rejects them), file paths that
/// could leave the results folder, and duplicate paths.
fn check_report(report: &ReportRequest) -> Result<(), AppError> {
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
