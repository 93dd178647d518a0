//! Comparing two stored commits on one machine.

use anyhow::Context as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use pitot_report::{CommitLabel, RenderOptions};
use pitot_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::{query, repository};
use crate::blocking::run_blocking;
use crate::error::AppError;
use crate::job_comparison::COMPARE_OPTIONS;
use crate::noise_thresholds::{assess_with_history, Sides};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct CompareQuery {
    machine: Option<String>,
    environment: Option<String>,
    base: Option<String>,
    head: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CompareResponse {
    repository: String,
    machine: String,
    environment: Option<String>,
    /// The full sha of each side.
    base: String,
    head: String,
    /// The comparison in `pitot compare --format json`'s layout.
    comparison: Value,
}

/// `GET /api/v1/repositories/{owner}/{name}/compare?machine=&base=&head=`:
/// compares two stored commits (full shas or unique prefixes) on one
/// machine, optionally in one environment, by asv's rule with pitot's
/// verdict and the noise thresholds of the base's history.
pub(super) async fn compare_commits(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    compare_query: Result<Query<CompareQuery>, QueryRejection>,
) -> Result<Json<CompareResponse>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(compare_query)?;
    let required = |value: Option<String>, name: &str, what: &str| {
        value.filter(|value| !value.is_empty()).ok_or_else(|| {
            AppError::BadRequest(format!("missing query parameter {name}: give {what}"))
        })
    };
    let machine = required(
        request.machine,
        "machine",
        "the machine whose results to compare",
    )?;
    let base = required(request.base, "base", "the base commit's sha")?;
    let head = required(request.head, "head", "the head commit's sha")?;
    let environment = request.environment.filter(|value| !value.is_empty());

    let store = Store::from_pool(state.pool.clone());
    let suite = store.load_suite(&repo).await?;
    let before = store
        .load_commit(&repo, &machine, environment.as_deref(), &base)
        .await?;
    let after = store
        .load_commit(&repo, &machine, environment.as_deref(), &head)
        .await?;
    let base_sha = before
        .first()
        .map(|file| file.commit_hash.clone())
        .unwrap_or_default();
    let head_sha = after
        .first()
        .map(|file| file.commit_hash.clone())
        .unwrap_or_default();

    let mut comparison =
        run_blocking(move || pitot_stats::compare(&before, &after, &suite, &COMPARE_OPTIONS))
            .await?
            .map_err(|error| {
                AppError::BadRequest(format!("cannot compare {base} with {head}: {error}"))
            })?;
    assess_with_history(&store, &repo, &mut comparison, &base_sha, Sides::SeparateRuns).await?;
    let options = RenderOptions {
        before: CommitLabel {
            hash: base_sha.clone(),
            name: None,
        },
        after: CommitLabel {
            hash: head_sha.clone(),
            name: None,
        },
        ..RenderOptions::default()
    };
    let json = pitot_report::render_json(&comparison, &options)
        .context("failed to encode the comparison")?;
    let comparison: Value =
        serde_json::from_str(&json).context("the comparison's JSON does not parse")?;
    Ok(Json(CompareResponse {
        repository: repo.to_string(),
        machine,
        environment,
        base: base_sha,
        head: head_sha,
        comparison,
    }))
}
