//! Detected change points: a repository's list and their triage.
//!
//! Reading needs no token. Changing a change point's triage state needs an
//! API token with the `triage` scope, and the token's name is recorded as
//! who changed it.

use anyhow::Context as _;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pitot_store::regressions::{self, Regression, RegressionFilter, TriageState};
use serde::{Deserialize, Serialize};

use super::params::{in_range, query, repository, series_name};
use super::suite::repository_name;
use crate::api_tokens::ApiScope;
use crate::error::AppError;
use crate::state::AppState;

use super::auth::ApiCaller;

const DEFAULT_REGRESSIONS: i64 = 200;
const MAX_REGRESSIONS: i64 = 1_000;
/// The maximum length of a triage note, in characters.
const MAX_NOTE_CHARS: usize = 2_000;

#[derive(Deserialize)]
pub(super) struct RegressionsQuery {
    state: Option<String>,
    benchmark: Option<String>,
    #[serde(default)]
    include_stale: bool,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct Regressions {
    repository: String,
    regressions: Vec<RegressionJson>,
}

#[derive(Serialize)]
pub(super) struct RegressionJson {
    id: i64,
    repository: String,
    series_id: i64,
    name: String,
    benchmark: String,
    params: Vec<String>,
    machine: String,
    environment: String,
    unit: Option<String>,
    /// The last commit before the change and the first one after it.
    before_commit: String,
    after_commit: String,
    after_committed_at: Option<DateTime<Utc>>,
    mean_before: f64,
    mean_after: f64,
    ratio: Option<f64>,
    p_value: f64,
    /// `worse` or `better`.
    direction: String,
    /// False when the latest detection no longer finds the change.
    current: bool,
    detected_at: DateTime<Utc>,
    state: String,
    state_changed_by: Option<String>,
    state_changed_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

impl From<Regression> for RegressionJson {
    fn from(regression: Regression) -> Self {
        RegressionJson {
            id: regression.id,
            name: series_name(&regression.benchmark, &regression.params),
            repository: regression.repository,
            series_id: regression.series_id,
            benchmark: regression.benchmark,
            params: regression.params,
            machine: regression.machine,
            environment: regression.environment,
            unit: regression.unit,
            before_commit: regression.before_commit,
            after_commit: regression.after_commit,
            after_committed_at: regression.after_committed_at,
            mean_before: regression.mean_before,
            mean_after: regression.mean_after,
            ratio: regression.ratio,
            p_value: regression.p_value,
            direction: regression.direction,
            current: regression.current,
            detected_at: regression.detected_at,
            state: regression.state,
            state_changed_by: regression.state_changed_by,
            state_changed_at: regression.state_changed_at,
            note: regression.note,
        }
    }
}

/// `GET /api/v1/repositories/{owner}/{name}/regressions`: the repository's
/// change points, newest first, optionally only those in one triage
/// `state` or of one `benchmark`.
pub(super) async fn list(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    request: Result<Query<RegressionsQuery>, QueryRejection>,
) -> Result<Json<Regressions>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(request)?;
    let limit = in_range(
        "limit",
        request.limit.unwrap_or(DEFAULT_REGRESSIONS),
        1,
        MAX_REGRESSIONS,
    )?;
    let triage_state = request.state.as_deref().map(parse_state).transpose()?;
    let stored_name = repository_name(&state, repo.as_str()).await?;

    let filter = RegressionFilter {
        state: triage_state,
        benchmark: request.benchmark,
        include_stale: request.include_stale,
        limit,
    };
    let found = regressions::list_regressions(&state.pool, &stored_name, &filter)
        .await
        .context("failed to list the change points")?;
    Ok(Json(Regressions {
        repository: stored_name,
        regressions: found.into_iter().map(RegressionJson::from).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriageRequest {
    state: String,
    note: Option<String>,
}

/// `PATCH /api/v1/regressions/{id}`: sets a change point's triage state and
/// note. Needs a token with the `triage` scope.
pub(super) async fn triage(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: Result<Json<TriageRequest>, JsonRejection>,
) -> Result<Json<RegressionJson>, AppError> {
    caller.require(ApiScope::Triage)?;
    let id: i64 = id.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "invalid regression id {id:?}: expected the number the regressions list gives"
        ))
    })?;
    let Json(request) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "invalid triage request: {}; send JSON such as {{\"state\": \"acknowledged\", \"note\": \"...\"}}",
            rejection.body_text()
        ))
    })?;
    let triage_state = parse_state(&request.state)?;
    let note = request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|note| !note.is_empty());
    if let Some(note) = note.filter(|note| note.chars().count() > MAX_NOTE_CHARS) {
        return Err(AppError::BadRequest(format!(
            "invalid note: it has {} characters, more than the limit of {MAX_NOTE_CHARS}",
            note.chars().count()
        )));
    }

    let changed = regressions::set_triage(&state.pool, id, triage_state, note, &caller.name)
        .await
        .context("failed to store the triage state")?;
    if !changed {
        return Err(AppError::NotFound(format!("regression {id} not found")));
    }
    tracing::info!(
        regression_id = id,
        state = triage_state.as_str(),
        by = %caller.name,
        "regression triaged"
    );
    let stored = regressions::find_regression(&state.pool, id)
        .await
        .context("failed to load the triaged change point")?
        .ok_or_else(|| AppError::NotFound(format!("regression {id} not found")))?;
    Ok(Json(stored.into()))
}

fn parse_state(value: &str) -> Result<TriageState, AppError> {
    TriageState::parse(value).ok_or_else(|| {
        AppError::BadRequest(format!(
            "invalid triage state {value:?}: expected one of {}",
            TriageState::names()
        ))
    })
}
