//! `POST /api/agent/jobs/{job_id}/report`: storing what an agent sends at
//! the end of an attempt.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::Json;
use pitot_runner::api::ReportRequest;
use pitot_store::job_reports;
use pitot_store::jobs::{self, JobState};
use serde_json::{json, Value};
use tracing::instrument;

use super::{lease_lost, Agent, JsonBody};
use crate::error::AppError;
use crate::job_report_store::{check_report, outcome_name, store_report};
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
