//! Check runs on the head commit of a pull request, following GitHub's
//! "REST API endpoints for check runs". Only GitHub Apps may create them, so
//! a client with a personal token skips these calls (logging that once) and
//! returns `Ok(None)`.

use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::GitHubClient;
use crate::error::GitHubError;
use crate::transport::{repo_path, AuthKind, Call};

/// A check run's status; a completed run carries its conclusion, which
/// GitHub requires with `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckRunStatus {
    Queued,
    InProgress,
    Completed(CheckConclusion),
}

/// The outcome of a completed check run. GitHub's `stale` is left out
/// because only GitHub sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    TimedOut,
    ActionRequired,
    Skipped,
}

impl CheckConclusion {
    /// Returns the name GitHub's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckConclusion::Success => "success",
            CheckConclusion::Failure => "failure",
            CheckConclusion::Neutral => "neutral",
            CheckConclusion::Cancelled => "cancelled",
            CheckConclusion::TimedOut => "timed_out",
            CheckConclusion::ActionRequired => "action_required",
            CheckConclusion::Skipped => "skipped",
        }
    }
}

/// The content of the check run's page; `summary` and `text` are markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunOutput {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
}

/// A check run to create on a commit.
#[derive(Debug, Clone)]
pub struct NewCheckRun<'a> {
    /// The full commit SHA (40 or 64 hex digits).
    pub head_sha: &'a str,
    /// The name shown in the pull request's checks list.
    pub name: &'a str,
    pub status: CheckRunStatus,
    /// A page with more detail, such as pitot's comparison page.
    pub details_url: Option<&'a str>,
    /// pitot's id for the run (the job id), unique per check run; used to
    /// find the run again when creating it failed ambiguously.
    pub external_id: &'a str,
    pub output: Option<&'a CheckRunOutput>,
    /// The external id of an earlier request to create the run that may
    /// have reached GitHub, made by this process or another. The commit's
    /// runs are searched for it first.
    pub earlier_external_id: Option<&'a str>,
}

/// A check run that was created or updated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRunRef {
    pub id: u64,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A check run as GitHub lists it, reduced to what pitot reads.
#[derive(Deserialize)]
struct ListedCheckRun {
    id: u64,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    /// The App that created the run. A run without one never counts as this App's.
    #[serde(default)]
    app: Option<ListedApp>,
}

#[derive(Deserialize)]
struct ListedApp {
    id: u64,
}

#[derive(Deserialize)]
struct CheckRunList {
    check_runs: Vec<ListedCheckRun>,
}

impl GitHubClient {
    /// Creates a check run on `run.head_sha`; `Ok(None)` when the client has
    /// a personal token. A timeout or 5xx may come after GitHub stored the
    /// run, so before each retry the commit's runs are searched for this
    /// App's run with `run.external_id`, and a stored run is returned
    /// instead of a second one. When the last try or the search fails that
    /// way, the client remembers it, and its next call for the same run
    /// searches before it creates, as does a call with
    /// `run.earlier_external_id`. A run found then is updated to this
    /// call's status and output.
    #[tracing::instrument(skip_all, fields(repo = %repo, head_sha = %run.head_sha, external_id = %run.external_id))]
    pub async fn create_check_run(
        &self,
        repo: &str,
        run: &NewCheckRun<'_>,
    ) -> Result<Option<CheckRunRef>, GitHubError> {
        let repo = repo_path(repo)?;
        check_sha(run.head_sha)?;
        if run.external_id.is_empty() {
            return Err(GitHubError::InvalidInput(
                "a check run needs a non-empty external_id".into(),
            ));
        }
        if self.skip_check_runs() {
            return Ok(None);
        }

        let mut body = status_fields(run.status);
        body.insert("name".into(), json!(run.name));
        body.insert("head_sha".into(), json!(run.head_sha));
        body.insert("external_id".into(), json!(run.external_id));
        if let Some(url) = run.details_url {
            body.insert("details_url".into(), json!(url));
        }
        if let Some(output) = run.output {
            body.insert("output".into(), output_json(output));
        }
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/check-runs"),
            body: Some(Value::Object(body)),
            idempotent: false,
            auth: AuthKind::Installation,
        };

        let uncertain_key = format!("{repo}\n{}", run.external_id);
        let mut earlier: Vec<&str> = run.earlier_external_id.into_iter().collect();
        if self.uncertain_check_runs().contains(&uncertain_key) {
            earlier.push(run.external_id);
        }
        if !earlier.is_empty() {
            if let Some(stored) = self.find_check_run(repo, run, &earlier).await? {
                self.uncertain_check_runs().remove(&uncertain_key);
                // An earlier call stored it, perhaps with another status,
                // such as in progress where this call completes the run.
                let updated = self
                    .update_check_run(repo, stored.id, run.status, run.output)
                    .await?;
                return Ok(updated.or(Some(stored)));
            }
        }
        let policy = &self.shared.settings.retry;
        let mut attempt = 1;
        loop {
            let error = match self.send(&call).await {
                Ok(response) => {
                    self.uncertain_check_runs().remove(&uncertain_key);
                    return Ok(Some(response.json(&call)?));
                }
                Err(error) if error.may_have_taken_effect() && attempt < policy.max_attempts => error,
                Err(error) => {
                    if error.may_have_taken_effect() {
                        self.uncertain_check_runs().insert(uncertain_key);
                    }
                    return Err(error);
                }
            };

            let wait = policy.backoff(attempt);
            tracing::warn!(
                attempt,
                max_attempts = policy.max_attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                %error,
                "creating the check run may have failed; checking for it by external id before retrying"
            );
            tokio::time::sleep(wait).await;
            match self.find_check_run(repo, run, &[run.external_id]).await {
                Ok(Some(stored)) => return Ok(Some(stored)),
                Ok(None) => {}
                Err(error) => {
                    self.uncertain_check_runs().insert(uncertain_key);
                    return Err(error);
                }
            }
            attempt += 1;
        }
    }

    /// Looks for this App's run named `name` with `external_id` on
    /// `head_sha`, which an earlier request may have created, and sets its
    /// status and output. Returns `Ok(None)` when there is none, or when
    /// the client has a personal token. Unlike
    /// [`GitHubClient::create_check_run`] it never creates a run.
    pub async fn complete_found_check_run(
        &self,
        repo: &str,
        head_sha: &str,
        name: &str,
        external_id: &str,
        status: CheckRunStatus,
        output: Option<&CheckRunOutput>,
    ) -> Result<Option<CheckRunRef>, GitHubError> {
        let repo = repo_path(repo)?;
        check_sha(head_sha)?;
        if self.skip_check_runs() || external_id.is_empty() {
            return Ok(None);
        }
        let run = NewCheckRun {
            head_sha,
            name,
            status,
            details_url: None,
            external_id,
            output,
            earlier_external_id: None,
        };
        let Some(found) = self.find_check_run(repo, &run, &[external_id]).await? else {
            return Ok(None);
        };
        let updated = self.update_check_run(repo, found.id, status, output).await?;
        Ok(updated.or(Some(found)))
    }

    /// Locks the set of check runs whose creation may have taken effect.
    fn uncertain_check_runs(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // The set stays valid after a panic elsewhere.
        self.shared
            .uncertain_check_runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the status (and conclusion) of check run `check_run_id`, and its
    /// output when given; `Ok(None)` when the client has a personal token.
    #[tracing::instrument(skip_all, fields(repo = %repo, check_run_id))]
    pub async fn update_check_run(
        &self,
        repo: &str,
        check_run_id: u64,
        status: CheckRunStatus,
        output: Option<&CheckRunOutput>,
    ) -> Result<Option<CheckRunRef>, GitHubError> {
        let repo = repo_path(repo)?;
        if self.skip_check_runs() {
            return Ok(None);
        }

        let mut body = status_fields(status);
        if let Some(output) = output {
            body.insert("output".into(), output_json(output));
        }
        let call = Call {
            method: Method::PATCH,
            target: format!("/repos/{repo}/check-runs/{check_run_id}"),
            body: Some(Value::Object(body)),
            idempotent: true,
            auth: AuthKind::Installation,
        };
        Ok(Some(self.send(&call).await?.json(&call)?))
    }

    /// Returns a run on `run.head_sha` that this client's App created,
    /// named `run.name` with one of `external_ids`, looking at the newest
    /// 100 runs of that name and App. Another App can create a run
    /// with the same name and external id, so the request filters by
    /// `app_id` and each listed run's `app.id` is checked as well.
    async fn find_check_run(
        &self,
        repo: &str,
        run: &NewCheckRun<'_>,
        external_ids: &[&str],
    ) -> Result<Option<CheckRunRef>, GitHubError> {
        // Only Apps create check runs, so a client with a token has none.
        let Some(app_id) = self.app_id() else {
            return Ok(None);
        };
        let call = Call {
            method: Method::GET,
            target: format!(
                "/repos/{repo}/commits/{}/check-runs?check_name={}&app_id={app_id}&filter=all&per_page=100",
                run.head_sha,
                crate::percent::encode_segment(run.name)
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let list: CheckRunList = self.send(&call).await?.json(&call)?;
        let found = list.check_runs.into_iter().find(|listed| {
            listed.app.as_ref().is_some_and(|app| app.id == app_id)
                && listed
                    .external_id
                    .as_deref()
                    .is_some_and(|external_id| external_ids.contains(&external_id))
        });
        Ok(found.map(|listed| CheckRunRef {
            id: listed.id,
            html_url: listed.html_url,
        }))
    }
}

fn status_fields(status: CheckRunStatus) -> Map<String, Value> {
    let mut fields = Map::new();
    match status {
        CheckRunStatus::Queued => {
            fields.insert("status".into(), json!("queued"));
        }
        CheckRunStatus::InProgress => {
            fields.insert("status".into(), json!("in_progress"));
        }
        CheckRunStatus::Completed(conclusion) => {
            fields.insert("status".into(), json!("completed"));
            fields.insert("conclusion".into(), json!(conclusion.as_str()));
        }
    }
    fields
}

fn output_json(output: &CheckRunOutput) -> Value {
    let mut value = json!({ "title": output.title, "summary": output.summary });
    if let Some(text) = &output.text {
        value["text"] = json!(text);
    }
    value
}

/// Checks that `sha` is a full commit SHA, so it can go into a path as is.
fn check_sha(sha: &str) -> Result<(), GitHubError> {
    if matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(GitHubError::InvalidInput(format!(
            "invalid commit SHA {sha:?}: expected 40 or 64 hex digits"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_status_carries_conclusion() {
        let fields = status_fields(CheckRunStatus::Completed(CheckConclusion::TimedOut));

        assert_eq!(fields["status"], "completed");
        assert_eq!(fields["conclusion"], "timed_out");
    }

    #[test]
    fn open_status_has_no_conclusion() {
        let fields = status_fields(CheckRunStatus::InProgress);

        assert_eq!(fields["status"], "in_progress");
        assert!(!fields.contains_key("conclusion"));
    }

    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(
            crate::percent::encode_segment("pitot / asv benchmarks"),
            "pitot%20%2F%20asv%20benchmarks"
        );
        assert_eq!(crate::percent::encode_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(crate::percent::encode_segment("é&="), "%C3%A9%26%3D");
    }

    #[test]
    fn short_or_non_hex_shas_are_rejected() {
        let bad = ["", "abc123", &"g".repeat(40), &"a".repeat(41)];

        for sha in bad {
            assert!(check_sha(sha).is_err(), "accepted {sha:?}");
        }
        assert!(check_sha(&"a".repeat(40)).is_ok());
    }
}
