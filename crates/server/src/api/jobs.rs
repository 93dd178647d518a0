//! Jobs: a repository's list, one job with its comparison and charts, the
//! log and results files its agent uploaded, and running a job again.

use anyhow::Context as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pitot_report::{CommitLabel, RenderOptions};
use pitot_store::dashboard::{self, JobSummary};
use pitot_store::job_reports::{self, JobReport};
use pitot_store::jobs::{self, Job, JobState, NewPullRequestJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::ApiCaller;
use super::params::{in_range, query, repository};
use super::suite::repository_name;
use crate::charts::{chart_links, load_comparison, ChartJob};
use crate::error::AppError;
use crate::api_tokens::ApiScope;
use crate::state::AppState;
use crate::webhook::{enqueue_job, job_backend};

const DEFAULT_JOBS: i64 = 50;
const MAX_JOBS: i64 = 500;

#[derive(Deserialize)]
pub(super) struct JobsQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct Jobs {
    repository: String,
    jobs: Vec<JobJson>,
}

#[derive(Serialize)]
struct JobJson {
    id: i64,
    pr_number: Option<i64>,
    head_sha: String,
    base_sha: Option<String>,
    state: &'static str,
    machine: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<JobSummary> for JobJson {
    fn from(job: JobSummary) -> Self {
        JobJson {
            id: job.id,
            pr_number: job.pr_number,
            head_sha: job.head_sha,
            base_sha: job.base_sha,
            state: job.state.as_str(),
            machine: job.machine,
            error: job.error,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// `GET /api/v1/repositories/{owner}/{name}/jobs`: the repository's jobs,
/// newest first; `before` (a job id) pages back.
pub(super) async fn list(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    jobs_query: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Json<Jobs>, AppError> {
    let repo = repository(&owner, &name)?;
    let request = query(jobs_query)?;
    let limit = in_range("limit", request.limit.unwrap_or(DEFAULT_JOBS), 1, MAX_JOBS)?;
    let stored_name = repository_name(&state, repo.as_str()).await?;
    let jobs = dashboard::list_jobs(&state.pool, repo.as_str(), request.before, limit)
        .await
        .context("failed to list the jobs")?;
    Ok(Json(Jobs {
        repository: stored_name,
        jobs: jobs.into_iter().map(JobJson::from).collect(),
    }))
}

#[derive(Serialize)]
pub(super) struct JobDetail {
    repository: String,
    job: JobJson,
    /// The comparison in `pitot compare --format json`'s layout, or `None`
    /// with `comparison_error` saying why.
    comparison: Option<Value>,
    comparison_error: Option<String>,
    charts: Option<ChartsJson>,
    /// The path of the agent's log, when an agent reported.
    log_url: Option<String>,
    files: Vec<FileJson>,
}

#[derive(Serialize)]
struct ChartsJson {
    summary_url: String,
    histories: Vec<ChartLinkJson>,
}

#[derive(Serialize)]
struct ChartLinkJson {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct FileJson {
    path: String,
    url: String,
}

/// `GET /api/v1/jobs/{job_id}`: one job, its comparison with pitot's
/// verdict (as the comment shows it), the chart paths, and links to the
/// log and the raw results files of its latest report.
pub(super) async fn detail(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<JobDetail>, AppError> {
    let job = load_job(&state, &job_id).await?;
    let report = latest_report(&state, job.id).await?;
    let files = match &report {
        Some(report) => dashboard::report_file_paths(&state.pool, report.id)
            .await
            .context("failed to list the job's results files")?,
        None => Vec::new(),
    };

    let (comparison, comparison_error, charts) = match load_comparison(&state, job.id).await {
        Ok((job, base_sha, comparison)) => {
            let chart_job = ChartJob {
                job_id: job.id,
                repository_id: job.repository_id,
                repository: &job.repository,
                base_sha: &base_sha,
                head_sha: &job.head_sha,
            };
            let links = chart_links(&state, &chart_job, &comparison, None, "").await?;
            let options = RenderOptions {
                before: CommitLabel {
                    hash: base_sha.clone(),
                    name: None,
                },
                after: CommitLabel {
                    hash: job.head_sha.clone(),
                    name: None,
                },
                ..RenderOptions::default()
            };
            let json = pitot_report::render_json(&comparison, &options)
                .context("failed to encode the comparison")?;
            let value: Value =
                serde_json::from_str(&json).context("the comparison's JSON does not parse")?;
            let charts = ChartsJson {
                summary_url: links.summary_url,
                histories: links
                    .histories
                    .into_iter()
                    .map(|link| ChartLinkJson {
                        name: link.name,
                        url: link.url,
                    })
                    .collect(),
            };
            (Some(value), None, Some(charts))
        }
        Err(AppError::NotFound(why) | AppError::Gone(why)) => (None, Some(why), None),
        Err(error) => return Err(error),
    };

    Ok(Json(JobDetail {
        repository: job.repository.clone(),
        log_url: report
            .as_ref()
            .map(|_| format!("/api/v1/jobs/{}/log", job.id)),
        files: files
            .into_iter()
            .map(|path| FileJson {
                url: file_url(job.id, &path),
                path,
            })
            .collect(),
        job: job_json(job),
        comparison,
        comparison_error,
        charts,
    }))
}

/// `GET /api/v1/jobs/{job_id}/log`: the log of the job's latest report,
/// as plain text; 410 when data retention deleted it.
pub(super) async fn log(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Response, AppError> {
    let job = load_job(&state, &job_id).await?;
    let Some(report) = latest_report(&state, job.id).await? else {
        return Err(missing_report(&state, job.id, || {
            AppError::NotFound(format!("job {} has no log: no agent reported yet", job.id))
        })
        .await);
    };
    let mut response = report.log.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// `GET /api/v1/jobs/{job_id}/files/{path}`: one results file of the
/// job's latest report, as asv wrote it, for download; 410 when data
/// retention deleted it.
pub(super) async fn file(
    State(state): State<AppState>,
    Path((job_id, path)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let job = load_job(&state, &job_id).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "job {} has no results file {path:?}; GET /api/v1/jobs/{} lists its files",
            job.id, job.id
        ))
    };
    let Some(report) = latest_report(&state, job.id).await? else {
        return Err(missing_report(&state, job.id, not_found).await);
    };
    let content = dashboard::report_file(&state.pool, report.id, &path)
        .await
        .context("failed to load the results file")?
        .ok_or_else(not_found)?;
    let file_name: String = path
        .rsplit('/')
        .next()
        .unwrap_or("results.json")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-+".contains(*c))
        .collect();
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// `POST /api/v1/jobs/{job_id}/rerun`: queues a finished pull request job
/// again, with the same head, base branch and benchmark filter, as
/// `/pitot rerun` does. Needs an API token with the `rerun` scope. Only
/// the pull request's latest job may run again, so that an older head
/// never replaces the newer one's comment.
pub(super) async fn rerun(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(job_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    caller.require(ApiScope::Rerun)?;

    let job = load_job(&state, &job_id).await?;
    let Some(pr_number) = job.pr_number else {
        return Err(AppError::BadRequest(format!(
            "job {} benchmarks a {} commit, not a pull request: only pull request jobs run again; pushes bring new history jobs",
            job.id,
            job.kind.as_str()
        )));
    };

    let mut tx = state.pool.begin().await?;
    let latest = jobs::latest_pull_request_job(&mut *tx, job.repository_id, pr_number)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("job {} not found", job.id)))?;
    if latest.id != job.id {
        return Err(AppError::Conflict(format!(
            "job {} is not the latest of pull request #{pr_number}: run job {} again instead",
            job.id, latest.id
        )));
    }
    if matches!(
        latest.state,
        JobState::Queued | JobState::Running | JobState::Ingesting
    ) {
        return Err(AppError::Conflict(format!(
            "job {} is {}: wait until it finishes, or cancel it first",
            job.id, latest.state
        )));
    }

    let head_fetch_ref = job.head_fetch_ref.as_deref();
    let new_job = NewPullRequestJob {
        repository_id: job.repository_id,
        pr_number,
        head_sha: &job.head_sha,
        base_ref: &job.base_ref,
        clone_url: &job.clone_url,
        head_fetch_ref,
        installation_id: job.installation_id,
        max_attempts: state.config.jobs.max_attempts,
        bench: latest.bench.as_deref(),
        backend: job_backend(&state, &job.repository),
        dispatch_ref: None,
    };
    let (_, queued_id, queued_state) = enqueue_job(&mut tx, &new_job).await?;
    tx.commit().await?;

    tracing::info!(
        job_id = queued_id,
        repo = %job.repository,
        pr = pr_number,
        token = %caller.name,
        "job queued again through the API"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "job_id": queued_id, "state": queued_state.as_str() })),
    ))
}

async fn load_job(state: &AppState, job_id: &str) -> Result<Job, AppError> {
    let id: i64 = job_id.parse().map_err(|_| {
        AppError::BadRequest(format!("invalid job id {job_id:?}: expected a number"))
    })?;
    jobs::load_job(&state.pool, id)
        .await
        .context("failed to load the job")?
        .ok_or_else(|| AppError::NotFound(format!("job {id} not found")))
}

async fn latest_report(state: &AppState, job_id: i64) -> Result<Option<JobReport>, AppError> {
    Ok(job_reports::latest_job_report(&state.pool, job_id)
        .await
        .context("failed to load the job's report")?)
}

/// Returns the error for a job without a report: 410 when data retention
/// deleted it, else `not_found`'s error.
async fn missing_report(
    state: &AppState,
    job_id: i64,
    not_found: impl FnOnce() -> AppError,
) -> AppError {
    match crate::retention::deleted_report_error(state, job_id).await {
        Ok(Some(gone)) => gone,
        Ok(None) => not_found(),
        Err(error) => error,
    }
}

fn job_json(job: Job) -> JobJson {
    JobJson {
        id: job.id,
        pr_number: job.pr_number,
        head_sha: job.head_sha,
        base_sha: job.base_sha,
        state: job.state.as_str(),
        machine: job.machine,
        error: job.error,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    }
}

/// Returns the download URL of the report file `path`, each of its segments
/// percent-encoded: machine and file names come from the runner, and a `#`,
/// `?` or `%` in them would otherwise change the link.
fn file_url(job_id: i64, path: &str) -> String {
    let segments: Vec<String> = path.split('/').map(pitot_github::encode_segment).collect();
    format!("/api/v1/jobs/{job_id}/files/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_url_encodes_each_segment() {
        assert_eq!(
            file_url(5, "macos-12/f95f852b-virtualenv-py3.10.json"),
            "/api/v1/jobs/5/files/macos-12/f95f852b-virtualenv-py3.10.json"
        );
        assert_eq!(file_url(5, "m#1/100%.json"), "/api/v1/jobs/5/files/m%231/100%25.json");
        assert_eq!(file_url(5, "%2e%2e/x.json"), "/api/v1/jobs/5/files/%252e%252e/x.json");
    }
}
