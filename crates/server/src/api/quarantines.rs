//! Quarantined benchmarks: listing them, and setting or lifting one with
//! an API token that has the `quarantine` scope.

use anyhow::Context as _;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pitot_store::quarantines::{self, Quarantine};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::params::{query, repository};
use super::suite::unknown_repository;
use crate::api_tokens::ApiScope;
use crate::error::AppError;
use crate::quarantines::{check_benchmark, QuarantineRequest};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// Include lifted and expired quarantines.
    all: Option<bool>,
}

#[derive(Serialize)]
pub(super) struct QuarantineList {
    repository: String,
    quarantines: Vec<QuarantineJson>,
}

/// A quarantine as the API returns it.
#[derive(Serialize)]
pub(super) struct QuarantineJson {
    benchmark: String,
    kind: String,
    reason: String,
    expires_at: Option<DateTime<Utc>>,
    created_by: String,
    created_at: DateTime<Utc>,
    lifted_at: Option<DateTime<Utc>>,
    lifted_by: Option<String>,
    active: bool,
}

impl From<Quarantine> for QuarantineJson {
    fn from(row: Quarantine) -> Self {
        QuarantineJson {
            benchmark: row.benchmark,
            kind: row.kind,
            reason: row.reason,
            expires_at: row.expires_at,
            created_by: row.created_by,
            created_at: row.created_at,
            lifted_at: row.lifted_at,
            lifted_by: row.lifted_by,
            active: row.active,
        }
    }
}

/// `GET /api/v1/repositories/{owner}/{name}/quarantines`: the active
/// quarantines by benchmark name, or with `all=true` every quarantine the
/// repository has had, newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    list_query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<QuarantineList>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(list_query)?;
    let (repository_id, stored_name) = find_repository(&state, repo.as_str()).await?;
    let rows = if request.all.unwrap_or(false) {
        quarantines::quarantine_history(&state.pool, repository_id).await
    } else {
        quarantines::active_quarantines(&state.pool, repository_id).await
    }
    .context("failed to list the quarantines")?;
    Ok(Json(QuarantineList {
        repository: stored_name,
        quarantines: rows.into_iter().map(QuarantineJson::from).collect(),
    }))
}

/// The body of a `PUT`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuarantineBody {
    kind: String,
    reason: String,
    expires_at: Option<DateTime<Utc>>,
}

/// `PUT /api/v1/repositories/{owner}/{name}/quarantines/{benchmark}`:
/// quarantines the benchmark, replacing its active quarantine, and returns
/// the new one. Needs the `quarantine` scope.
pub(super) async fn put(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((owner, name, benchmark)): Path<(String, String, String)>,
    body: Result<Json<QuarantineBody>, JsonRejection>,
) -> Result<Json<QuarantineJson>, AppError> {
    caller.require(ApiScope::Quarantine)?;
    let repo = repository(&owner, &name)?;
    let Json(body) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "{}; send JSON such as {{\"kind\": \"noisy\", \"reason\": \"...\", \"expires_at\": \"2027-01-31T00:00:00Z\"}}",
            rejection.body_text()
        ))
    })?;
    let request = QuarantineRequest::parse(
        &benchmark,
        &body.kind,
        &body.reason,
        body.expires_at,
        Utc::now(),
    )
    .map_err(|error| AppError::BadRequest(error.to_string()))?;
    let (repository_id, _) = find_repository(&state, repo.as_str()).await?;

    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start the quarantine's transaction")?;
    let quarantine =
        crate::quarantines::set(&mut tx, repository_id, &request, &caller.name).await?;
    tx.commit()
        .await
        .context("failed to commit the quarantine")?;
    tracing::info!(
        repo = %repo,
        benchmark = %request.benchmark,
        kind = request.kind.as_str(),
        by = %caller.name,
        "benchmark quarantined"
    );
    Ok(Json(quarantine.into()))
}

/// `DELETE /api/v1/repositories/{owner}/{name}/quarantines/{benchmark}`:
/// lifts the benchmark's active quarantine and returns it. The row stays
/// in the history. Needs the `quarantine` scope.
pub(super) async fn lift(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((owner, name, benchmark)): Path<(String, String, String)>,
) -> Result<Json<QuarantineJson>, AppError> {
    caller.require(ApiScope::Quarantine)?;
    let repo = repository(&owner, &name)?;
    let benchmark =
        check_benchmark(&benchmark).map_err(|error| AppError::BadRequest(error.to_string()))?;
    let (repository_id, _) = find_repository(&state, repo.as_str()).await?;

    let lifted = quarantines::lift_quarantine(&state.pool, repository_id, &benchmark, &caller.name)
        .await
        .context("failed to lift the quarantine")?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "benchmark {benchmark:?} has no active quarantine in repository {repo}; \
                 GET /api/v1/repositories/{repo}/quarantines lists them"
            ))
        })?;
    tracing::info!(repo = %repo, benchmark = %benchmark, by = %caller.name, "quarantine lifted");
    Ok(Json(lifted.into()))
}

/// Returns the repository's id and stored name, or 404.
async fn find_repository(state: &AppState, repository: &str) -> Result<(i32, String), AppError> {
    quarantines::find_repository(&state.pool, repository)
        .await
        .context("failed to look up the repository")?
        .ok_or_else(|| unknown_repository(repository))
}
