//! The stand-in's GitHub Actions endpoints, for the Actions backend:
//! workflow dispatch, workflow runs, run artifacts and the artifact
//! download, plus the repository and compare endpoints the dispatch needs.
//!
//! A dispatch creates a queued run whose title is `pitot job <job_id>`,
//! the way pitot's workflow template names its runs. Tests complete runs
//! and attach artifacts themselves. The download returns a redirect to a
//! URL the test gives, as GitHub redirects to its storage.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::failure::{github_error, validation_failed};
use crate::model::timestamp;
use crate::state::StubState;

type Shared = State<Arc<StubState>>;

/// A workflow run as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRunRecord {
    pub id: u64,
    pub repo: String,
    /// The workflow's file name, as the dispatch named it.
    pub workflow: String,
    /// The ref the workflow was dispatched on.
    pub git_ref: String,
    /// The dispatch's inputs.
    pub inputs: serde_json::Map<String, Value>,
    /// `run-name`: `pitot job <job_id>`, or the workflow's name without a job id.
    pub display_title: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An artifact of a workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRecord {
    pub id: u64,
    pub run_id: u64,
    pub name: String,
    pub size_in_bytes: u64,
    /// The URL the download redirects to.
    pub download_url: String,
    /// An expired artifact is listed with `expired: true`, and its download returns 410.
    pub expired: bool,
}

#[derive(Default)]
pub(crate) struct ActionsState {
    inner: Mutex<ActionsInner>,
}

struct ActionsInner {
    /// Whether a dispatch returns 200 with the run's id (`return_run_details`)
    /// or, as older servers do, 204 without a body.
    return_run_details: bool,
    runs: BTreeMap<u64, WorkflowRunRecord>,
    artifacts: BTreeMap<u64, ArtifactRecord>,
    merge_bases: BTreeMap<String, String>,
    /// `(repo, branch)` to the branch's commits, oldest first, as tests set them.
    branches: BTreeMap<(String, String), Vec<String>>,
    next_id: u64,
}

impl Default for ActionsInner {
    fn default() -> Self {
        ActionsInner {
            return_run_details: true,
            runs: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            merge_bases: BTreeMap::new(),
            branches: BTreeMap::new(),
            // Run ids on GitHub are above 2^32 by now.
            next_id: 9_000_000_000,
        }
    }
}

impl ActionsState {
    fn lock(&self) -> MutexGuard<'_, ActionsInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_return_run_details(&self, enabled: bool) {
        self.lock().return_run_details = enabled;
    }

    pub fn set_merge_base(&self, repo: &str, sha: &str) {
        self.lock()
            .merge_bases
            .insert(repo.to_lowercase(), sha.to_owned());
    }

    pub fn set_branch_commits(&self, repo: &str, branch: &str, commits: Vec<String>) {
        self.lock()
            .branches
            .insert((repo.to_lowercase(), branch.to_owned()), commits);
    }

    pub fn runs(&self, repo: &str) -> Vec<WorkflowRunRecord> {
        let inner = self.lock();
        inner
            .runs
            .values()
            .filter(|run| run.repo.eq_ignore_ascii_case(repo))
            .cloned()
            .collect()
    }

    pub fn complete_run(&self, run_id: u64, conclusion: &str) -> Option<WorkflowRunRecord> {
        let mut inner = self.lock();
        let run = inner.runs.get_mut(&run_id)?;
        run.status = "completed".to_owned();
        run.conclusion = Some(conclusion.to_owned());
        Some(run.clone())
    }

    pub fn add_artifact(&self, mut artifact: ArtifactRecord) -> ArtifactRecord {
        let mut inner = self.lock();
        inner.next_id += 1;
        artifact.id = inner.next_id;
        inner.artifacts.insert(artifact.id, artifact.clone());
        artifact
    }

    fn add_run(&self, mut run: WorkflowRunRecord) -> (WorkflowRunRecord, bool) {
        let mut inner = self.lock();
        inner.next_id += 1;
        run.id = inner.next_id;
        inner.runs.insert(run.id, run.clone());
        (run, inner.return_run_details)
    }
}

pub(crate) fn routes() -> Router<Arc<StubState>> {
    Router::new()
        .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare))
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
            post(dispatch),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
            get(list_runs),
        )
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}", get(get_run))
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel",
            post(cancel_run),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
            get(list_artifacts),
        )
        .route(
            "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
            get(download_artifact),
        )
}

fn run_json(run: &WorkflowRunRecord) -> Value {
    json!({
        "id": run.id,
        "name": "pitot benchmarks",
        "display_title": run.display_title,
        "event": "workflow_dispatch",
        "head_branch": run.git_ref,
        "path": format!(".github/workflows/{}", run.workflow),
        "status": run.status,
        "conclusion": run.conclusion,
        "created_at": timestamp(run.created_at),
        "updated_at": timestamp(run.created_at),
        "pull_requests": [],
    })
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`.
///
/// When `base` is a branch whose commits a test set and `head` is one of
/// them, the response counts as GitHub does: `behind_by` is the branch's
/// commits after `head`, `ahead_by` is 0, and the merge-base is `head`.
/// Otherwise it returns the merge-base a test set for the repository, with
/// `head` one commit ahead unless `head` is that merge-base, or 404
/// without one.
async fn compare(
    State(state): Shared,
    Path((owner, repo, basehead)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let Some((base, head)) = basehead.split_once("...") else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let repo = format!("{owner}/{repo}").to_lowercase();
    let inner = state.actions.lock();
    let on_branch = inner
        .branches
        .get(&(repo.clone(), base.to_owned()))
        .and_then(|commits| {
            let position = commits.iter().position(|sha| sha == head)?;
            Some(commits.len() - 1 - position)
        });
    if let Some(behind_by) = on_branch {
        let status = if behind_by == 0 { "identical" } else { "behind" };
        return Json(json!({
            "status": status,
            "ahead_by": 0,
            "behind_by": behind_by,
            "total_commits": 0,
            "merge_base_commit": { "sha": head },
            "commits": [],
            "files": [],
        }))
        .into_response();
    }
    let Some(sha) = inner.merge_bases.get(&repo).cloned() else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // The merge-base counts as the branch's head here, so comparing the
    // branch with it finds nothing new.
    let ahead_by = usize::from(head != sha);
    let status = if ahead_by == 0 { "identical" } else { "ahead" };
    Json(json!({
        "status": status,
        "ahead_by": ahead_by,
        "behind_by": 0,
        "total_commits": ahead_by,
        "merge_base_commit": { "sha": sha },
        "commits": [],
    }))
    .into_response()
}

/// `POST .../actions/workflows/{workflow}/dispatches`: creates a queued
/// run; 200 with its id when asked and enabled, else 204.
async fn dispatch(
    State(state): Shared,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return github_error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let Some(git_ref) = fields.get("ref").and_then(Value::as_str) else {
        return validation_failed("ref wasn't supplied.");
    };
    let inputs = match fields.get("inputs") {
        None => serde_json::Map::new(),
        Some(Value::Object(inputs)) => inputs.clone(),
        Some(_) => return validation_failed("inputs is not an object."),
    };

    let display_title = match inputs.get("job_id").and_then(Value::as_str) {
        Some(job_id) => format!("pitot job {job_id}"),
        None => "pitot benchmarks".to_owned(),
    };
    let run = WorkflowRunRecord {
        id: 0,
        repo: format!("{owner}/{repo}"),
        workflow,
        git_ref: git_ref.to_owned(),
        inputs,
        display_title,
        status: "queued".to_owned(),
        conclusion: None,
        created_at: Utc::now(),
    };
    let (run, details_enabled) = state.actions.add_run(run);

    let asked = fields.get("return_run_details").and_then(Value::as_bool) == Some(true);
    if !(asked && details_enabled) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let html_url = format!("https://github.com/{owner}/{repo}/actions/runs/{}", run.id);
    let run_url = format!(
        "{}/repos/{owner}/{repo}/actions/runs/{}",
        state.base_url, run.id
    );
    Json(json!({ "workflow_run_id": run.id, "run_url": run_url, "html_url": html_url }))
        .into_response()
}

/// `GET .../actions/workflows/{workflow}/runs`: newest first, filtered by `event`.
async fn list_runs(
    State(state): Shared,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let event_matches = |_: &WorkflowRunRecord| {
        query
            .get("event")
            .is_none_or(|event| event == "workflow_dispatch")
    };
    let mut runs: Vec<Value> = state
        .actions
        .runs(&format!("{owner}/{repo}"))
        .iter()
        .filter(|run| run.workflow == workflow && event_matches(run))
        .map(run_json)
        .collect();
    runs.reverse();
    Json(json!({ "total_count": runs.len(), "workflow_runs": runs })).into_response()
}

/// `GET .../actions/runs/{run_id}`.
async fn get_run(
    State(state): Shared,
    Path((owner, repo, run_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let repo = format!("{owner}/{repo}");
    match state
        .actions
        .runs(&repo)
        .into_iter()
        .find(|run| run.id == run_id)
    {
        Some(run) => Json(run_json(&run)).into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `POST .../actions/runs/{run_id}/cancel`: 202, and the run completes
/// as `cancelled`; 409 for a run that already completed, which is how
/// pitot's client reads GitHub's 409.
async fn cancel_run(
    State(state): Shared,
    Path((owner, repo, run_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let mut inner = state.actions.lock();
    let Some(run) = inner
        .runs
        .get_mut(&run_id)
        .filter(|run| run.repo.eq_ignore_ascii_case(&format!("{owner}/{repo}")))
    else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if run.status == "completed" {
        return github_error(
            StatusCode::CONFLICT,
            "Cannot cancel a workflow run that is completed.",
        );
    }
    run.status = "completed".to_owned();
    run.conclusion = Some("cancelled".to_owned());
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}

/// `GET .../actions/runs/{run_id}/artifacts`, filtered by `name`.
async fn list_artifacts(
    State(state): Shared,
    Path((owner, repo, run_id)): Path<(String, String, u64)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    let inner = state.actions.lock();
    if !inner
        .runs
        .get(&run_id)
        .is_some_and(|run| run.repo.eq_ignore_ascii_case(&format!("{owner}/{repo}")))
    {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let artifacts: Vec<Value> = inner
        .artifacts
        .values()
        .filter(|artifact| artifact.run_id == run_id)
        .filter(|artifact| query.get("name").is_none_or(|name| *name == artifact.name))
        .map(|artifact| {
            json!({
                "id": artifact.id,
                "name": artifact.name,
                "size_in_bytes": artifact.size_in_bytes,
                "archive_download_url": format!("{}/repos/{owner}/{repo}/actions/artifacts/{}/zip", state.base_url, artifact.id),
                "expired": artifact.expired,
                "workflow_run": { "id": run_id },
            })
        })
        .collect();
    Json(json!({ "total_count": artifacts.len(), "artifacts": artifacts })).into_response()
}

/// `GET .../actions/artifacts/{artifact_id}/zip`: 302 to the artifact's
/// download URL, or 410 when it expired.
async fn download_artifact(
    State(state): Shared,
    Path((_owner, _repo, artifact_id, archive_format)): Path<(String, String, u64, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(rejection) = authenticate(&state, &headers) {
        return rejection;
    }
    if archive_format != "zip" {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(artifact) = state.actions.lock().artifacts.get(&artifact_id).cloned() else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if artifact.expired {
        return github_error(StatusCode::GONE, "Artifact has expired");
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, artifact.download_url)],
    )
        .into_response()
}
