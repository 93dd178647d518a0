//! The agent API that `pitot agent` calls: claim a job (long-poll), send
//! heartbeats, report the result. The request and response bodies, and the
//! meaning of each status code, are defined in `pitot_runner::api`.

mod auth;
mod json;
mod report;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pitot_runner::api::{self, ClaimRequest, HeartbeatRequest, HeartbeatResponse};
use pitot_store::jobs::{self, JobState};
use tokio::time::Instant;
use tracing::instrument;

pub use auth::Agent;
pub use json::JsonBody;
pub use report::report;

use crate::error::AppError;
use crate::state::AppState;

/// How often a waiting claim looks at the queue even without a
/// notification, in case one was lost while the listener reconnected.
const CLAIM_RECHECK: Duration = Duration::from_secs(5);

/// The delay before a claim looks again after it found no job although one
/// was queued. Another transaction had locked the job's row for a moment,
/// and its commit sends no notification.
const LOCKED_RECHECK: Duration = Duration::from_millis(20);

/// How many quick looks a claim takes, half a second's worth, before it
/// falls back to [`CLAIM_RECHECK`]: a queued job that stays out of reach
/// is held by a longer transaction or is not this agent's to take.
const MAX_LOCKED_RECHECKS: u32 = 25;

/// The asv factor a job gets until repositories can configure their own;
/// it is `asv continuous`'s default.
const DEFAULT_FACTOR: f64 = 1.1;

/// `POST /api/agent/claim`: returns a job as soon as one is queued, or 204
/// when none is within the configured wait.
#[instrument(skip_all, fields(agent = %agent.name, machine, job_id))]
pub async fn claim(
    State(state): State<AppState>,
    agent: Agent,
    JsonBody(request): JsonBody<ClaimRequest>,
) -> Result<Response, AppError> {
    check_name("machine", &request.machine)?;
    tracing::Span::current().record("machine", request.machine.as_str());
    let deadline = Instant::now() + state.config.jobs.claim_wait;
    let mut locked_rechecks = 0;

    loop {
        // Subscribe before looking at the queue: a job committed between the
        // look and the wait then still wakes this claim.
        let wake = state.queue_events.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();

        if state.shutdown.is_cancelled() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let claimed = jobs::claim_next_job(
            &state.pool,
            &agent.name,
            &request.machine,
            state.lease_seconds(),
        )
        .await?;
        if let Some(job) = claimed {
            tracing::Span::current().record("job_id", job.id);
            state.metrics.observe_queue_wait(job.queue_wait_seconds);
            tracing::info!(attempt = job.attempt, repo = %job.repository, pr = job.pr_number, kind = job.kind.as_str(), "job claimed");
            return Ok(Json(claimed_job(&state, job)).into_response());
        }

        let recheck = if locked_rechecks < MAX_LOCKED_RECHECKS
            && jobs::agent_job_queued(&state.pool, &request.machine).await?
        {
            locked_rechecks += 1;
            LOCKED_RECHECK
        } else {
            CLAIM_RECHECK
        };
        let recheck_at = (Instant::now() + recheck).min(deadline);
        tokio::select! {
            _ = &mut wake => {}
            _ = tokio::time::sleep_until(recheck_at) => {}
            _ = state.shutdown.cancelled() => {}
        }
        if Instant::now() >= deadline {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
}

/// `POST /api/agent/jobs/{job_id}/heartbeat`: renews the lease, or returns
/// `cancelled: true` when the job was cancelled so that the agent stops.
#[instrument(skip_all, fields(agent = %agent.name, job_id))]
pub async fn heartbeat(
    State(state): State<AppState>,
    agent: Agent,
    Path(job_id): Path<i64>,
    JsonBody(request): JsonBody<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, AppError> {
    tracing::Span::current().record("job_id", job_id);
    let renewed = jobs::renew_lease(
        &state.pool,
        job_id,
        request.attempt,
        &agent.name,
        state.lease_seconds(),
        request.base_sha.as_deref(),
    )
    .await?;
    if renewed {
        return Ok(Json(HeartbeatResponse { cancelled: false }));
    }

    // Not renewed: find out whether the job was cancelled under this
    // agent's attempt, or whether the lease is gone.
    let status = jobs::job_status(&state.pool, job_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("job {job_id} not found")))?;
    let holds_attempt =
        status.attempt == request.attempt && status.agent.as_deref() == Some(agent.name.as_str());
    match status.state {
        JobState::Cancelled | JobState::Superseded if holds_attempt => {
            Ok(Json(HeartbeatResponse { cancelled: true }))
        }
        // A heartbeat that crossed the report on the network.
        JobState::Ingesting | JobState::Reported if holds_attempt => {
            Ok(Json(HeartbeatResponse { cancelled: false }))
        }
        _ => Err(lease_lost(job_id, request.attempt)),
    }
}

/// Builds the 409 for a call under an attempt that the caller no longer has.
fn lease_lost(job_id: i64, attempt: i32) -> AppError {
    AppError::Conflict(format!(
        "the lease on attempt {attempt} of job {job_id} was lost: it expired or another agent holds the job; stop working on it"
    ))
}

fn claimed_job(state: &AppState, job: jobs::ClaimedJob) -> api::ClaimedJob {
    let jobs_config = &state.config.jobs;
    api::ClaimedJob {
        job_id: job.id,
        attempt: job.attempt,
        repository: job.repository,
        // Sent without credentials: the agent runs untrusted code. Private
        // repositories are reached through the agent's own URL rewrites.
        clone_url: job.clone_url,
        head_sha: job.head_sha,
        base_ref: job.base_ref,
        // History and release jobs compare two given commits.
        base_sha: job.base_sha,
        pr_number: job.pr_number,
        // The agent sends heartbeats every third of this, so rounding down
        // keeps it on the safe side of the stored lease.
        lease_seconds: jobs_config.lease.as_secs().max(1),
        // TODO: read the others from the repository's configuration once it is stored.
        asv: api::AsvOptions {
            // Set by `/pitot run --bench REGEX`.
            bench: job.bench,
            config: None,
            factor: DEFAULT_FACTOR,
            timeout_seconds: jobs_config.run_timeout.as_secs(),
            extra_args: Vec::new(),
            // Set for confirmation jobs, which run the flagged benchmarks
            // with more rounds than the first run.
            rounds: job.rounds.and_then(|rounds| u32::try_from(rounds).ok()),
        },
        head_fetch_ref: job.head_fetch_ref,
        // The column's constraint keeps it between 2 and 10.
        calibration_passes: job.calibration_passes.and_then(|passes| u32::try_from(passes).ok()),
    }
}

/// Checks a name an agent sends (its machine), which ends up in the
/// database and in asv's results paths.
pub(crate) fn check_name(field: &str, value: &str) -> Result<(), AppError> {
    let valid = !value.is_empty()
        && value.len() <= 100
        && !value.chars().any(|c| c.is_control() || c == '/');
    if valid {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "invalid {field} {value:?}: expected 1 to 100 characters without '/' or control characters"
        )))
    }
}
