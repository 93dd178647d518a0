//! A/A calibrations of a repository: the list with each job's measured
//! noise, and queueing a new one (see `crate::calibrations`).

use anyhow::Context as _;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use pitot_store::calibrations::{self, CalibrationJob, StoredNoise};
use pitot_store::quarantines::find_repository;
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::params::{in_range, query, repository};
use crate::api_tokens::ApiScope;
use crate::calibrations::{
    queue_calibration, CalibrationRequest, CalibrationRequestError, DEFAULT_PASSES,
};
use crate::error::AppError;
use crate::state::AppState;

const DEFAULT_CALIBRATIONS: i64 = 10;
const MAX_CALIBRATIONS: i64 = 100;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct CalibrationList {
    repository: String,
    calibrations: Vec<CalibrationJson>,
}

#[derive(Serialize)]
struct CalibrationJson {
    job_id: i64,
    sha: String,
    state: &'static str,
    required_machine: Option<String>,
    machine: Option<String>,
    passes: i16,
    error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    noise: Vec<NoiseJson>,
}

#[derive(Serialize)]
struct NoiseJson {
    machine: String,
    environment: String,
    benchmark: String,
    name: String,
    unit: Option<String>,
    passes: i16,
    relative_difference: Option<f64>,
    sample_spread: Option<f64>,
}

impl CalibrationJson {
    fn new(job: CalibrationJob, noise: &[StoredNoise]) -> Self {
        let noise = noise
            .iter()
            .filter(|row| row.job_id == job.id)
            .map(|row| NoiseJson {
                machine: row.machine.clone(),
                environment: row.environment.clone(),
                benchmark: row.benchmark.clone(),
                name: row.series_name.clone(),
                unit: row.unit.clone(),
                passes: row.passes,
                relative_difference: row.relative_difference,
                sample_spread: row.sample_spread,
            })
            .collect();
        CalibrationJson {
            job_id: job.id,
            sha: job.sha,
            state: job.state.as_str(),
            required_machine: job.required_machine,
            machine: job.machine,
            passes: job.passes,
            error: job.error,
            created_at: job.created_at,
            finished_at: job.finished_at,
            noise,
        }
    }
}

/// `GET /api/v1/repositories/{owner}/{name}/calibrations`: the newest
/// calibration jobs, each with the noise it measured per series.
pub(super) async fn list(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    list_query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<CalibrationList>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(list_query)?;
    let limit = in_range(
        "limit",
        request.limit.unwrap_or(DEFAULT_CALIBRATIONS),
        1,
        MAX_CALIBRATIONS,
    )?;
    let (repository_id, stored_name) = find_repository(&state.pool, repo.as_str())
        .await
        .context("failed to look up the repository")?
        .ok_or_else(|| AppError::NotFound(format!("repository {repo} not found")))?;

    let jobs = calibrations::list_calibration_jobs(&state.pool, repository_id, limit)
        .await
        .context("failed to list the calibrations")?;
    let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
    let noise = calibrations::noise_of_jobs(&state.pool, &ids)
        .await
        .context("failed to load the calibrations' noise")?;
    Ok(Json(CalibrationList {
        repository: stored_name,
        calibrations: jobs
            .into_iter()
            .map(|job| CalibrationJson::new(job, &noise))
            .collect(),
    }))
}

/// The body of a `POST`; every field is optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CalibrationBody {
    sha: Option<String>,
    machine: Option<String>,
    passes: Option<u32>,
}

#[derive(Serialize)]
pub(super) struct QueuedJson {
    job_id: i64,
    sha: String,
    /// False when an unfinished calibration of the same commit and machine
    /// was returned instead of a new one.
    created: bool,
}

/// `POST /api/v1/repositories/{owner}/{name}/calibrations`: queues an A/A
/// calibration job. Needs the `calibrate` scope. Responds 202 with the new
/// job, or 200 with the unfinished job that already calibrates the same
/// commit on the same machine.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((owner, name)): Path<(String, String)>,
    body: Result<Json<CalibrationBody>, JsonRejection>,
) -> Result<(StatusCode, Json<QueuedJson>), AppError> {
    caller.require(ApiScope::Calibrate)?;
    let repo = repository(&owner, &name)?;
    let body = match body {
        Ok(Json(body)) => body,
        // An empty body asks for the defaults.
        Err(JsonRejection::MissingJsonContentType(_)) => CalibrationBody::default(),
        Err(rejection) => {
            return Err(AppError::BadRequest(format!(
                "{}; send JSON such as {{\"sha\": \"<40 hex digits>\", \"machine\": \"bench-1\", \"passes\": 2}}, or no body for the defaults",
                rejection.body_text()
            )))
        }
    };
    let request = CalibrationRequest {
        repository: repo.clone(),
        sha: body.sha,
        machine: body.machine.filter(|machine| !machine.is_empty()),
        passes: body.passes.unwrap_or(DEFAULT_PASSES),
    };

    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start the transaction")?;
    let queued = queue_calibration(&mut tx, &request, state.config.jobs.max_attempts)
        .await
        .map_err(request_error)?;
    tx.commit()
        .await
        .context("failed to commit the calibration job")?;

    tracing::info!(
        job_id = queued.job_id,
        repo = %repo,
        sha = %queued.sha,
        created = queued.created,
        token = %caller.name,
        "calibration requested through the API"
    );
    let status = if queued.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(QueuedJson {
            job_id: queued.job_id,
            sha: queued.sha,
            created: queued.created,
        }),
    ))
}

fn request_error(error: CalibrationRequestError) -> AppError {
    match error {
        CalibrationRequestError::UnknownRepository(_) => AppError::NotFound(error.to_string()),
        CalibrationRequestError::NoSource(_) | CalibrationRequestError::NoCommit(_) => {
            AppError::Conflict(error.to_string())
        }
        CalibrationRequestError::Store(error) => error.into(),
        _ => AppError::BadRequest(error.to_string()),
    }
}
