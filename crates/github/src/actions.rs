//! The GitHub Actions calls of the Actions backend, following GitHub's "REST
//! API endpoints for workflows", "... for workflow runs" and "... for
//! artifacts": the merge-base of a pull request, the workflow dispatch, the
//! run's state, and the artifact's download.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::header::{LOCATION, USER_AGENT};
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::GitHubClient;
use crate::error::GitHubError;
use crate::transport::{repo_path, AuthKind, Call};

/// The maximum duration of an artifact download from GitHub's storage.
// NOTE: an estimate: 64 MiB, the default artifact cap, takes seconds on a
// server's link; ten minutes leaves room for a slow one.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A workflow run, reduced to what pitot needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkflowRun {
    pub id: i64,
    /// The workflow's name.
    pub name: Option<String>,
    /// The run's title: the workflow's `run-name`, which pitot's workflow
    /// sets to `pitot job <id>`.
    pub display_title: Option<String>,
    /// `queued`, `in_progress`, `completed`, ...
    pub status: Option<String>,
    /// Set once the run completed: `success`, `failure`, `cancelled`,
    /// `timed_out`, ...
    pub conclusion: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The event that started the run: `workflow_dispatch` for pitot's dispatches.
    #[serde(default)]
    pub event: Option<String>,
    /// The workflow file, such as `.github/workflows/pitot-benchmarks.yml`.
    #[serde(default)]
    pub path: Option<String>,
}

impl WorkflowRun {
    /// Returns the run's title, or the workflow's name from a server that
    /// does not send `display_title`.
    pub fn title(&self) -> Option<&str> {
        self.display_title.as_deref().or(self.name.as_deref())
    }

    /// Returns whether pitot could have started this run: a dispatch of
    /// `workflow`, the file name in `.github/workflows/`. Anyone who can
    /// push a workflow, or open a pull request with one, can give a run
    /// pitot's title, so the title alone does not identify pitot's runs. A field the server
    /// left out is not held against the run.
    pub fn is_dispatch_of(&self, workflow: &str) -> bool {
        let dispatched = self.event.as_deref().is_none_or(|event| event == "workflow_dispatch");
        // A path may end in `@` and the ref it was read from.
        let same_file = self.path.as_deref().is_none_or(|path| {
            let file = path.split_once('@').map_or(path, |(file, _)| file);
            file.strip_prefix(".github/workflows/") == Some(workflow)
        });
        dispatched && same_file
    }
}

/// Returns the title that pitot's workflow gives the run of job `job_id` (its `run-name`).
pub fn run_title(job_id: i64) -> String {
    format!("pitot job {job_id}")
}

/// Returns the job id in a run title written by [`run_title`].
pub fn job_id_from_title(title: &str) -> Option<i64> {
    let digits = title.strip_prefix("pitot job ")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An artifact of a workflow run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ArtifactInfo {
    pub id: i64,
    pub name: String,
    pub size_in_bytes: u64,
    /// Whether GitHub deleted the artifact's files after its retention period.
    pub expired: bool,
}

/// The failure of an artifact download.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// 410: the artifact's retention period ended and GitHub deleted it.
    #[error("the artifact has expired (GitHub returned 410 Gone); run the benchmarks again")]
    Expired,
    /// The download is larger than the caller allows; nothing more was read.
    #[error("the artifact is over the limit of {limit} bytes; it was not downloaded further")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The storage host failed or returned an error status.
    #[error("downloading the artifact from GitHub's storage failed: {0}")]
    Storage(String),
    #[error("writing the downloaded artifact failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Deserialize)]
struct Comparison {
    merge_base_commit: CommitRef,
}

#[derive(Deserialize)]
struct CommitRef {
    sha: String,
}

#[derive(Deserialize)]
struct DispatchResponse {
    workflow_run_id: i64,
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Deserialize)]
struct ArtifactList {
    artifacts: Vec<ArtifactInfo>,
}

#[derive(Deserialize)]
struct RepositoryInfo {
    default_branch: String,
}

impl GitHubClient {
    /// Returns the merge-base of `base` and `head` (`GET /repos/{repo}/compare/{base}...{head}`).
    #[tracing::instrument(skip(self))]
    pub async fn merge_base(
        &self,
        repo: &str,
        base: &str,
        head: &str,
    ) -> Result<String, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            // The commit list is not needed; one per page keeps the response small.
            target: format!(
                "/repos/{repo}/compare/{}...{}?per_page=1",
                path_segment(base)?,
                path_segment(head)?
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let comparison: Comparison = self.send(&call).await?.json(&call)?;
        Ok(comparison.merge_base_commit.sha)
    }

    /// Returns the default branch of `repo` (`GET /repos/{repo}`).
    #[tracing::instrument(skip(self))]
    pub async fn default_branch(&self, repo: &str) -> Result<String, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let info: RepositoryInfo = self.send(&call).await?.json(&call)?;
        Ok(info.default_branch)
    }

    /// Dispatches `workflow` (a file name or id) on `git_ref` with `inputs`
    /// and returns the run's id when GitHub returns it.
    ///
    /// The request sets `return_run_details`, so GitHub returns 200 with
    /// `workflow_run_id`. A server that does not know
    /// the parameter answers 204 without a body, or rejects it with 400 or
    /// 422, after which the dispatch is sent again without it. Not retried
    /// once the request may have reached GitHub, so a failure never starts
    /// two runs.
    #[tracing::instrument(skip(self, inputs))]
    pub async fn dispatch_workflow(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: &Map<String, Value>,
    ) -> Result<Option<i64>, GitHubError> {
        let repo = repo_path(repo)?;
        let target = format!(
            "/repos/{repo}/actions/workflows/{}/dispatches",
            path_segment(workflow)?
        );
        let call = Call {
            method: Method::POST,
            target: target.clone(),
            body: Some(json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true })),
            idempotent: false,
            auth: AuthKind::Installation,
        };
        let response = match self.send(&call).await {
            Ok(response) => response,
            Err(GitHubError::Validation { message, .. })
            | Err(GitHubError::UnexpectedResponse {
                status: 400,
                message,
                ..
            }) if message.contains("return_run_details") => {
                let call = Call {
                    body: Some(json!({ "ref": git_ref, "inputs": inputs })),
                    ..call
                };
                self.send(&call).await?;
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        if response.body.trim().is_empty() {
            return Ok(None);
        }
        let details: DispatchResponse = response.json(&call)?;
        Ok(Some(details.workflow_run_id))
    }

    /// Returns the newest run of `workflow` created by a dispatch whose
    /// title is `title`, among the 100 newest dispatched runs.
    #[tracing::instrument(skip(self))]
    pub async fn find_workflow_run(
        &self,
        repo: &str,
        workflow: &str,
        title: &str,
    ) -> Result<Option<WorkflowRun>, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!(
                "/repos/{repo}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=100",
                path_segment(workflow)?
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let list: RunList = self.send(&call).await?.json(&call)?;
        // GitHub lists the newest runs first.
        Ok(list
            .workflow_runs
            .into_iter()
            .find(|run| run.title() == Some(title)))
    }

    /// Returns workflow run `run_id` (`GET /repos/{repo}/actions/runs/{run_id}`).
    #[tracing::instrument(skip(self))]
    pub async fn workflow_run(&self, repo: &str, run_id: i64) -> Result<WorkflowRun, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}/actions/runs/{run_id}"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?.json(&call)
    }

    /// Asks GitHub to cancel workflow run `run_id`
    /// (`POST /repos/{repo}/actions/runs/{run_id}/cancel`, which returns
    /// 202). Returns `false` when GitHub returns 409 Conflict, taken to
    /// mean that the run has already completed. Cancelling twice is
    /// harmless, so the call is retried like a read.
    ///
    /// NOTE: that 409 means "already completed" is an assumption that no
    /// test against GitHub itself has checked; only the stand-in sends it.
    #[tracing::instrument(skip(self))]
    pub async fn cancel_workflow_run(&self, repo: &str, run_id: i64) -> Result<bool, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/actions/runs/{run_id}/cancel"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        match self.send(&call).await {
            Ok(_) => Ok(true),
            Err(GitHubError::UnexpectedResponse { status: 409, .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Returns the artifacts named `name` of workflow run `run_id`.
    #[tracing::instrument(skip(self))]
    pub async fn run_artifacts(
        &self,
        repo: &str,
        run_id: i64,
        name: &str,
    ) -> Result<Vec<ArtifactInfo>, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!(
                "/repos/{repo}/actions/runs/{run_id}/artifacts?per_page=100&name={}",
                path_segment(name)?
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let list: ArtifactList = self.send(&call).await?.json(&call)?;
        // The filter is GitHub's; checking again costs nothing.
        Ok(list
            .artifacts
            .into_iter()
            .filter(|artifact| artifact.name == name)
            .collect())
    }

    /// Downloads artifact `artifact_id` as a zip into `out` and returns its
    /// size, stopping with [`DownloadError::TooLarge`] past `max_bytes`.
    ///
    /// GitHub returns a redirect to a short-lived storage URL. That URL carries its own signature, so it is fetched
    /// without the `Authorization` header: the token must never reach the
    /// storage host.
    #[tracing::instrument(skip(self, out))]
    pub async fn download_artifact<W: AsyncWrite + Unpin>(
        &self,
        repo: &str,
        artifact_id: i64,
        max_bytes: u64,
        out: &mut W,
    ) -> Result<u64, DownloadError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}/actions/artifacts/{artifact_id}/zip"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let (status, response) = match self.send_for_redirect(&call).await {
            Ok(answer) => answer,
            Err(GitHubError::UnexpectedResponse { status: 410, .. }) => {
                return Err(DownloadError::Expired)
            }
            Err(error) => return Err(error.into()),
        };
        let location = response
            .headers
            .get(LOCATION)
            .filter(|_| status.is_redirection())
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| GitHubError::UnexpectedResponse {
                request: call.describe(),
                status: status.as_u16(),
                message: "expected a redirect to the artifact's storage URL".to_owned(),
            })?;
        let location: Uri = location.parse().map_err(|_| {
            DownloadError::Storage("the redirect's Location is not a valid URL".to_owned())
        })?;
        let download = self.download_from_storage(location, max_bytes, out);
        match tokio::time::timeout(DOWNLOAD_TIMEOUT, download).await {
            Ok(result) => result,
            Err(_) => Err(DownloadError::Storage(format!(
                "no complete download within {} seconds",
                DOWNLOAD_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Streams the body at `location` into `out`, without credentials.
    async fn download_from_storage<W: AsyncWrite + Unpin>(
        &self,
        location: Uri,
        max_bytes: u64,
        out: &mut W,
    ) -> Result<u64, DownloadError> {
        if location.scheme().is_none() || location.authority().is_none() {
            return Err(DownloadError::Storage(
                "the redirect's Location is not an absolute URL".to_owned(),
            ));
        }
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(location)
            .header(USER_AGENT, self.shared.settings.user_agent.as_str())
            .body(octocrab::OctoBody::empty())
            .map_err(|error| DownloadError::Storage(error.to_string()))?;
        let response = self
            .shared
            .plain_http
            .request(request)
            .await
            .map_err(|error| DownloadError::Storage(error.to_string()))?;
        if response.status() != StatusCode::OK {
            // The storage URL lives about a minute; an error here is logged
            // by the caller and the whole download tried again later.
            return Err(DownloadError::Storage(format!(
                "the storage host returned {}",
                response.status()
            )));
        }
        if let Some(length) = content_length(response.headers()) {
            if length > max_bytes {
                return Err(DownloadError::TooLarge { limit: max_bytes });
            }
        }

        let mut body = response.into_body();
        let mut written: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| DownloadError::Storage(error.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            written += data.len() as u64;
            if written > max_bytes {
                return Err(DownloadError::TooLarge { limit: max_bytes });
            }
            out.write_all(&data).await?;
        }
        out.flush().await?;
        Ok(written)
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Checks that `value` can go into a URL path or query as it is: the
/// characters of branch names, commit ids and file names, without `/`
/// (except in a branch name, where GitHub expects it), `?`, `#`, `%` or `&`.
pub(crate) fn path_segment(value: &str) -> Result<&str, GitHubError> {
    let valid = !value.is_empty()
        && !value
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'));
    if valid {
        Ok(value)
    } else {
        Err(GitHubError::InvalidInput(format!(
            "{value:?} cannot be sent in a request path: use letters, digits, '-', '_', '.', '+' and '/'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_from_title_reads_only_pitots_titles() {
        assert_eq!(job_id_from_title(&run_title(42)), Some(42));

        for title in [
            "pitot job ",
            "pitot job 4 2",
            "pitot job -1",
            "Pitot job 1",
            "pitot job 1x",
            "CI",
        ] {
            assert_eq!(job_id_from_title(title), None, "{title:?}");
        }
    }

    #[test]
    fn is_dispatch_of_checks_event_and_path() {
        let run = |event: Option<&str>, path: Option<&str>| WorkflowRun {
            id: 1,
            name: None,
            display_title: Some(run_title(7)),
            status: None,
            conclusion: None,
            created_at: None,
            event: event.map(str::to_owned),
            path: path.map(str::to_owned),
        };
        let ours = ".github/workflows/pitot-benchmarks.yml";

        assert!(run(Some("workflow_dispatch"), Some(ours)).is_dispatch_of("pitot-benchmarks.yml"));
        assert!(run(Some("workflow_dispatch"), Some(&format!("{ours}@refs/heads/main")))
            .is_dispatch_of("pitot-benchmarks.yml"));
        assert!(run(None, None).is_dispatch_of("pitot-benchmarks.yml"));
        for (event, path) in [
            ("pull_request", ours),
            ("push", ours),
            ("workflow_dispatch", ".github/workflows/other.yml"),
            ("workflow_dispatch", "pitot-benchmarks.yml"),
            ("workflow_dispatch", "x/.github/workflows/pitot-benchmarks.yml"),
        ] {
            assert!(
                !run(Some(event), Some(path)).is_dispatch_of("pitot-benchmarks.yml"),
                "{event} {path}"
            );
        }
    }

    #[test]
    fn path_segment_rejects_what_would_change_the_url() {
        let bad = ["", "a?b", "a#b", "a%2e", "../x", "a//b", "a b", "a&name=x"];

        for value in bad {
            assert!(path_segment(value).is_err(), "accepted {value:?}");
        }
        assert_eq!(path_segment("feature/x-1.2").unwrap(), "feature/x-1.2");
        assert_eq!(
            path_segment("pitot-benchmarks.yml").unwrap(),
            "pitot-benchmarks.yml"
        );
    }
}
