//! The stored history: repositories, the overview of a suite, one
//! benchmark's series and one series' history.

use anyhow::Context as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pitot_asv::Outcome;
use pitot_store::dashboard::{self, MachineEnvironment, OverviewSeries};
use pitot_store::regressions;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::{commit_url_template, in_range, module_group, query, repository, series_name};
use crate::error::AppError;
use crate::state::AppState;

/// The number of recent results per series in the overview by default.
const DEFAULT_SPARKLINE_POINTS: i64 = 20;
const MAX_SPARKLINE_POINTS: i64 = 100;

#[derive(Serialize)]
pub(super) struct Repositories {
    repositories: Vec<RepositoryJson>,
}

#[derive(Serialize)]
struct RepositoryJson {
    name: String,
    benchmarks: i64,
    machines: i64,
    runs: i64,
    jobs: i64,
    latest_commit_at: Option<DateTime<Utc>>,
    commit_url: Option<String>,
}

/// `GET /api/v1/repositories`: every repository with the size of its history.
pub(super) async fn repositories(
    State(state): State<AppState>,
) -> Result<Json<Repositories>, AppError> {
    let rows = dashboard::list_repositories(&state.pool)
        .await
        .context("failed to list the repositories")?;
    let repositories = rows
        .into_iter()
        .map(|row| RepositoryJson {
            commit_url: commit_url_template(&row.name),
            name: row.name,
            benchmarks: row.benchmarks,
            machines: row.machines,
            runs: row.runs,
            jobs: row.jobs,
            latest_commit_at: row.latest_commit_at,
        })
        .collect();
    Ok(Json(Repositories { repositories }))
}

#[derive(Deserialize)]
pub(super) struct OverviewQuery {
    machine: Option<String>,
    environment: Option<String>,
    points: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct Overview {
    repository: String,
    /// The machine and environment shown; `None` when the repository has
    /// no results yet.
    machine: Option<String>,
    environment: Option<String>,
    machines: Vec<MachineJson>,
    series: Vec<OverviewJson>,
}

#[derive(Serialize)]
struct MachineJson {
    machine: String,
    environment: String,
    series: i64,
}

#[derive(Serialize)]
struct OverviewJson {
    id: i64,
    name: String,
    benchmark: String,
    params: Vec<String>,
    group: String,
    kind: Option<String>,
    unit: Option<String>,
    latest: LatestJson,
    /// The result before the latest one, when it is a value.
    previous_value: Option<f64>,
    /// Latest value over previous value, when both are positive values.
    change: Option<f64>,
    /// The recent results, oldest first; `null` for a failed or skipped one.
    sparkline: Vec<Option<f64>>,
}

#[derive(Serialize)]
struct LatestJson {
    commit: String,
    committed_at: Option<DateTime<Utc>>,
    state: &'static str,
    value: Option<f64>,
}

/// `GET /api/v1/repositories/{owner}/{name}/benchmarks`: every series of
/// one machine and environment with its latest value, its change and a
/// sparkline. Without `machine`, the most recently run pair is shown; a
/// `machine` without `environment` takes that machine's most recent one.
pub(super) async fn overview(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    overview_query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<Overview>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(overview_query)?;
    let points = in_range(
        "points",
        request.points.unwrap_or(DEFAULT_SPARKLINE_POINTS),
        2,
        MAX_SPARKLINE_POINTS,
    )?;
    let pairs = dashboard::machine_environments(&state.pool, repo.as_str())
        .await
        .context("failed to list the machines")?;
    let stored_name = repository_name(&state, repo.as_str()).await?;
    let chosen = choose_pair(
        &pairs,
        request.machine.as_deref(),
        request.environment.as_deref(),
    )?;
    let series = match chosen {
        Some(pair) => dashboard::suite_overview(
            &state.pool,
            &state.commit_shas,
            repo.as_str(),
            &pair.machine,
            &pair.environment,
            points,
        )
        .await
        .context("failed to load the suite overview")?,
        None => Vec::new(),
    };
    Ok(Json(Overview {
        repository: stored_name,
        machine: chosen.map(|pair| pair.machine.clone()),
        environment: chosen.map(|pair| pair.environment.clone()),
        machines: pairs
            .iter()
            .map(|pair| MachineJson {
                machine: pair.machine.clone(),
                environment: pair.environment.clone(),
                series: pair.series,
            })
            .collect(),
        series: series.into_iter().map(overview_json).collect(),
    }))
}

/// Returns the repository's stored spelling, or 404 when it is unknown.
pub(super) async fn repository_name(
    state: &AppState,
    repository: &str,
) -> Result<String, AppError> {
    dashboard::repository_name(&state.pool, repository)
        .await
        .context("failed to look up the repository")?
        .ok_or_else(|| unknown_repository(repository))
}

pub(super) fn unknown_repository(repository: &str) -> AppError {
    AppError::NotFound(format!(
        "repository {repository} not found; GET /api/v1/repositories lists the stored ones"
    ))
}

/// Picks the machine and environment to show: the requested ones, or the
/// most recently run pair (the first, as the store orders them).
fn choose_pair<'a>(
    pairs: &'a [MachineEnvironment],
    machine: Option<&str>,
    environment: Option<&str>,
) -> Result<Option<&'a MachineEnvironment>, AppError> {
    let matches = |pair: &&MachineEnvironment| {
        machine.is_none_or(|machine| pair.machine == machine)
            && environment.is_none_or(|environment| pair.environment == environment)
    };
    match pairs.iter().find(matches) {
        Some(pair) => Ok(Some(pair)),
        None if machine.is_none() && environment.is_none() => Ok(None),
        None => {
            let known: Vec<String> = pairs
                .iter()
                .map(|pair| format!("{} / {}", pair.machine, pair.environment))
                .collect();
            Err(AppError::NotFound(format!(
                "no results on machine {:?} in environment {:?}; the repository has: {}",
                machine.unwrap_or("(any)"),
                environment.unwrap_or("(any)"),
                if known.is_empty() {
                    "no results".to_owned()
                } else {
                    known.join(", ")
                }
            )))
        }
    }
}

fn overview_json(series: OverviewSeries) -> OverviewJson {
    let latest_value = series.latest_outcome.value();
    let previous_value = match series.recent.as_slice() {
        [.., previous, _latest] => *previous,
        _ => None,
    };
    let change = match (latest_value, previous_value) {
        (Some(latest), Some(previous)) if latest > 0.0 && previous > 0.0 => Some(latest / previous),
        _ => None,
    };
    OverviewJson {
        id: series.series_id,
        name: series_name(&series.benchmark, &series.params),
        group: module_group(&series.benchmark).to_owned(),
        benchmark: series.benchmark,
        params: series.params,
        kind: series.kind,
        unit: series.unit,
        latest: LatestJson {
            commit: series.latest_commit,
            committed_at: series.latest_commit_at,
            state: outcome_state(series.latest_outcome),
            value: latest_value,
        },
        previous_value,
        change,
        sparkline: series.recent,
    }
}

/// Returns the name the API uses for an outcome.
fn outcome_state(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Value(_) => "value",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
    }
}

#[derive(Serialize)]
pub(super) struct Benchmark {
    repository: String,
    benchmark: BenchmarkJson,
    series: Vec<BenchmarkSeriesJson>,
}

#[derive(Serialize)]
struct BenchmarkJson {
    name: String,
    group: String,
    kind: Option<String>,
    unit: Option<String>,
    param_names: Vec<String>,
    params: Option<Value>,
    version: Option<String>,
}

#[derive(Serialize)]
struct BenchmarkSeriesJson {
    id: i64,
    params: Vec<String>,
    machine: String,
    environment: String,
    latest_commit_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/repositories/{owner}/{name}/benchmarks/{benchmark}`: a
/// benchmark and its series, one per parameter combination, machine and
/// environment.
pub(super) async fn benchmark(
    State(state): State<AppState>,
    Path((owner, name, benchmark)): Path<(String, String, String)>,
) -> Result<Json<Benchmark>, AppError> {
    let repo = repository(&owner, &name)?;
    let info = dashboard::find_benchmark(&state.pool, repo.as_str(), &benchmark)
        .await
        .context("failed to load the benchmark")?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "benchmark {benchmark:?} not found in repository {repo}"
            ))
        })?;
    let series = dashboard::benchmark_series(&state.pool, repo.as_str(), &benchmark)
        .await
        .context("failed to load the benchmark's series")?;
    Ok(Json(Benchmark {
        repository: repo.to_string(),
        benchmark: BenchmarkJson {
            group: module_group(&info.name).to_owned(),
            name: info.name,
            kind: info.kind,
            unit: info.unit,
            param_names: info.param_names,
            params: info.params,
            version: info.version,
        },
        series: series
            .into_iter()
            .map(|series| BenchmarkSeriesJson {
                id: series.series_id,
                params: series.params,
                machine: series.machine,
                environment: series.environment,
                latest_commit_at: series.latest_commit_at,
            })
            .collect(),
    }))
}

#[derive(Serialize)]
pub(super) struct SeriesHistory {
    repository: String,
    commit_url: Option<String>,
    series: SeriesJson,
    points: PointColumns,
    /// The series' current change points, oldest first, for the chart's
    /// markers.
    change_points: Vec<ChangePointJson>,
    /// The repository's releases whose commit pitot has results for.
    releases: Vec<ReleaseJson>,
}

#[derive(Serialize)]
struct ChangePointJson {
    id: i64,
    before_commit: String,
    after_commit: String,
    ratio: Option<f64>,
    direction: String,
    state: String,
}

#[derive(Serialize)]
struct ReleaseJson {
    tag: String,
    commit: String,
}

#[derive(Serialize)]
struct SeriesJson {
    id: i64,
    name: String,
    benchmark: String,
    params: Vec<String>,
    machine: String,
    environment: String,
    kind: Option<String>,
    unit: Option<String>,
}

/// A series' points as columns of equal length, oldest first, which is
/// both smaller than one object per point and what the chart draws from.
#[derive(Serialize, Default)]
struct PointColumns {
    commit: Vec<String>,
    /// Commit dates in milliseconds since the Unix epoch, `null` when unknown.
    committed_at: Vec<Option<i64>>,
    /// `value`, `failed` or `skipped`.
    state: Vec<&'static str>,
    value: Vec<Option<f64>>,
    ci_99_low: Vec<Option<f64>>,
    ci_99_high: Vec<Option<f64>>,
    version: Vec<Option<String>>,
}

/// `GET /api/v1/repositories/{owner}/{name}/series/{series_id}`: every
/// result of one series, oldest first.
pub(super) async fn series_history(
    State(state): State<AppState>,
    Path((owner, name, series_id)): Path<(String, String, String)>,
) -> Result<Json<SeriesHistory>, AppError> {
    let repo = repository(&owner, &name)?;
    let series_id: i64 = series_id.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "invalid series id {series_id:?}: expected the number the benchmarks list gives"
        ))
    })?;
    // The four reads are independent, so they run at once on four of the
    // pool's connections: the history's wait is its longest read, not the
    // sum of all four.
    let (info, points, change_points, releases) = tokio::join!(
        dashboard::find_series(&state.pool, repo.as_str(), series_id),
        dashboard::series_points(&state.pool, &state.commit_shas, series_id),
        regressions::series_change_points(&state.pool, series_id),
        regressions::release_markers(&state.pool, repo.as_str()),
    );
    let info = info.context("failed to load the series")?.ok_or_else(|| {
        AppError::NotFound(format!("series {series_id} not found in repository {repo}"))
    })?;
    let points = points.context("failed to load the series' history")?;
    let change_points = change_points.context("failed to load the series' change points")?;
    let releases = releases.context("failed to load the repository's releases")?;

    let mut columns = PointColumns::default();
    for point in points {
        columns.commit.push(point.commit);
        columns
            .committed_at
            .push(point.committed_at.map(|date| date.timestamp_millis()));
        columns.state.push(outcome_state(point.outcome));
        columns.value.push(point.outcome.value());
        columns.ci_99_low.push(point.ci_99.map(|(low, _)| low));
        columns.ci_99_high.push(point.ci_99.map(|(_, high)| high));
        columns.version.push(point.version);
    }
    Ok(Json(SeriesHistory {
        repository: repo.to_string(),
        commit_url: commit_url_template(repo.as_str()),
        series: SeriesJson {
            id: info.series_id,
            name: series_name(&info.benchmark, &info.params),
            benchmark: info.benchmark,
            params: info.params,
            machine: info.machine,
            environment: info.environment,
            kind: info.kind,
            unit: info.unit,
        },
        points: columns,
        change_points: change_points
            .into_iter()
            .map(|point| ChangePointJson {
                id: point.id,
                before_commit: point.before_commit,
                after_commit: point.after_commit,
                ratio: point.ratio,
                direction: point.direction,
                state: point.state,
            })
            .collect(),
        releases: releases
            .into_iter()
            .map(|release| ReleaseJson {
                tag: release.tag,
                commit: release.sha,
            })
            .collect(),
    }))
}
