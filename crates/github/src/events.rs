//! The webhook events pitot acts on, parsed from a delivery's body.
//!
//! Only the fields pitot uses are read; GitHub adds fields often, so unknown
//! fields are ignored. An event pitot does not handle parses to
//! [`Event::Ignored`] rather than an error, so it can be acknowledged.

use serde::Deserialize;

/// A parsed webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Sent once when a webhook is created.
    Ping { hook_id: Option<i64> },
    PullRequest(PullRequestEvent),
    /// `installation` and `installation_repositories`: which repositories the App may act on.
    Installation(InstallationEvent),
    /// `issue_comment`: a comment on an issue or a pull request, which may
    /// hold a `/pitot` command.
    IssueComment(IssueCommentEvent),
    /// `workflow_run`: a GitHub Actions run was requested, started or completed.
    WorkflowRun(WorkflowRunEvent),
    /// `push`: commits pushed to a branch, or a tag or branch created or deleted.
    Push(PushEvent),
    /// `release`: a release was published, edited, deleted and so on.
    Release(ReleaseEvent),
    /// Any other event or action, acknowledged and not acted on.
    Ignored { event: String, action: Option<String> },
}

/// Why a delivery's body could not be read as the event its header names.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the {event} payload is not valid JSON of the expected shape: {source}")]
    InvalidPayload {
        event: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A repository as webhook payloads describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepoRef {
    pub id: i64,
    /// `owner/name`.
    pub full_name: String,
    pub clone_url: Option<String>,
    pub default_branch: Option<String>,
}

/// What happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestAction {
    Labeled { label: String },
    Unlabeled { label: String },
    /// New commits were pushed to the head branch.
    Synchronize,
    Closed,
    Other(String),
}

/// A `pull_request` delivery, reduced to what pitot needs to plan a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: PullRequestAction,
    pub repository: RepoRef,
    pub number: i64,
    /// The exact head commit at the time of the event; a job pins it.
    pub head_sha: String,
    pub head_ref: String,
    /// Where to fetch the head commit from; `None` when the fork was deleted.
    pub head_clone_url: Option<String>,
    /// Whether the head branch lives in another repository (a fork).
    pub from_fork: bool,
    /// The branch the pull request targets.
    pub base_ref: String,
    pub base_sha: String,
    pub installation_id: Option<i64>,
}

/// An `installation` or `installation_repositories` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationEvent {
    pub action: String,
    pub installation_id: i64,
    pub account: Option<String>,
    /// Full names of repositories added to the installation (all of them for `created`).
    pub added: Vec<String>,
    /// Full names of repositories removed from it.
    pub removed: Vec<String>,
}

/// An `issue_comment` delivery, reduced to what a command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCommentEvent {
    /// `created`, `edited` or `deleted`.
    pub action: String,
    pub repository: RepoRef,
    /// The issue's or pull request's number.
    pub number: i64,
    /// Whether the comment is on a pull request rather than an issue.
    pub on_pull_request: bool,
    pub comment_id: i64,
    pub body: String,
    /// The author's login.
    pub author: String,
    /// The author's relation to the repository, such as `OWNER` or `NONE`.
    pub author_association: String,
    /// Whether the author is a bot account, pitot's own App included.
    pub author_is_bot: bool,
    pub installation_id: Option<i64>,
}

/// A `workflow_run` delivery, reduced to what the Actions backend needs.
/// Its `pull_requests` list is left out on purpose: it is empty for pull
/// requests from forks, so runs are matched to jobs by id or title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRunEvent {
    /// `requested`, `in_progress` or `completed`.
    pub action: String,
    pub repository: RepoRef,
    pub run: crate::WorkflowRun,
    pub installation_id: Option<i64>,
}

/// A `push` delivery, reduced to what a history job needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub repository: RepoRef,
    /// The full ref pushed to, such as `refs/heads/main` or `refs/tags/v1.0`.
    pub git_ref: String,
    /// The ref's commit before the push; all zeros when the push created the ref.
    pub before: String,
    /// The ref's commit after the push; all zeros when the push deleted the ref.
    pub after: String,
    /// Whether the push was forced, so `before` may not be an ancestor of `after`.
    pub forced: bool,
    pub installation_id: Option<i64>,
}

impl PushEvent {
    /// Returns the branch name when the push went to a branch (`refs/heads/...`).
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// Returns whether the push deleted the ref.
    pub fn deletes_ref(&self) -> bool {
        is_zero_sha(&self.after)
    }

    /// Returns whether the push created the ref, so there is no commit before it.
    pub fn creates_ref(&self) -> bool {
        is_zero_sha(&self.before)
    }
}

/// Returns whether `sha` is the all-zeros object id GitHub sends for a
/// missing side of a ref change.
fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// A `release` delivery, reduced to what a release report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEvent {
    /// `published`, `created`, `edited`, `deleted` and so on.
    pub action: String,
    pub repository: RepoRef,
    pub tag: String,
    /// A branch name or a commit hash; pitot resolves the tag instead.
    pub target_commitish: String,
    pub draft: bool,
    pub prerelease: bool,
    pub installation_id: Option<i64>,
}

impl Event {
    /// Parses `body` as the event named by the `X-GitHub-Event` header.
    pub fn parse(event: &str, body: &[u8]) -> Result<Event, EventError> {
        let invalid = |source| EventError::InvalidPayload { event: event.to_string(), source };
        match event {
            "ping" => {
                let ping: wire::Ping = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::Ping { hook_id: ping.hook_id })
            }
            "pull_request" => {
                let payload: wire::PullRequestPayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::PullRequest(payload.into_event()))
            }
            "installation" | "installation_repositories" => {
                let payload: wire::InstallationPayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::Installation(payload.into_event()))
            }
            "issue_comment" => {
                let payload: wire::IssueCommentPayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::IssueComment(payload.into_event()))
            }
            "workflow_run" => {
                let payload: wire::WorkflowRunPayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::WorkflowRun(WorkflowRunEvent {
                    action: payload.action,
                    repository: payload.repository,
                    run: payload.workflow_run,
                    installation_id: payload.installation.map(|installation| installation.id),
                }))
            }
            "push" => {
                let payload: wire::PushPayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::Push(payload.into_event()))
            }
            "release" => {
                let payload: wire::ReleasePayload = serde_json::from_slice(body).map_err(invalid)?;
                Ok(Event::Release(payload.into_event()))
            }
            other => {
                let action = serde_json::from_slice::<wire::ActionOnly>(body)
                    .ok()
                    .and_then(|payload| payload.action);
                Ok(Event::Ignored { event: other.to_string(), action })
            }
        }
    }
}

/// The payload shapes as GitHub sends them.
mod wire {
    use serde::Deserialize;

    use super::{
        InstallationEvent, IssueCommentEvent, PullRequestAction, PullRequestEvent, PushEvent, ReleaseEvent,
        RepoRef,
    };

    #[derive(Deserialize)]
    pub struct PushPayload {
        #[serde(rename = "ref")]
        pub git_ref: String,
        pub before: String,
        pub after: String,
        #[serde(default)]
        pub forced: bool,
        pub repository: RepoRef,
        pub installation: Option<Installation>,
    }

    impl PushPayload {
        pub fn into_event(self) -> PushEvent {
            PushEvent {
                repository: self.repository,
                git_ref: self.git_ref,
                before: self.before,
                after: self.after,
                forced: self.forced,
                installation_id: self.installation.map(|installation| installation.id),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Release {
        pub tag_name: String,
        #[serde(default)]
        pub target_commitish: String,
        #[serde(default)]
        pub draft: bool,
        #[serde(default)]
        pub prerelease: bool,
    }

    #[derive(Deserialize)]
    pub struct ReleasePayload {
        pub action: String,
        pub release: Release,
        pub repository: RepoRef,
        pub installation: Option<Installation>,
    }

    impl ReleasePayload {
        pub fn into_event(self) -> ReleaseEvent {
            ReleaseEvent {
                action: self.action,
                repository: self.repository,
                tag: self.release.tag_name,
                target_commitish: self.release.target_commitish,
                draft: self.release.draft,
                prerelease: self.release.prerelease,
                installation_id: self.installation.map(|installation| installation.id),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Ping {
        pub hook_id: Option<i64>,
    }

    #[derive(Deserialize)]
    pub struct ActionOnly {
        pub action: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Label {
        pub name: String,
    }

    #[derive(Deserialize)]
    pub struct Branch {
        #[serde(rename = "ref")]
        pub branch: String,
        pub sha: String,
        /// `null` when the head repository (a fork) was deleted.
        pub repo: Option<RepoRef>,
    }

    #[derive(Deserialize)]
    pub struct PullRequest {
        pub number: i64,
        pub head: Branch,
        pub base: Branch,
    }

    #[derive(Deserialize)]
    pub struct Installation {
        pub id: i64,
        pub account: Option<Account>,
    }

    #[derive(Deserialize)]
    pub struct Account {
        pub login: String,
    }

    #[derive(Deserialize)]
    pub struct PullRequestPayload {
        pub action: String,
        pub pull_request: PullRequest,
        pub label: Option<Label>,
        pub repository: RepoRef,
        pub installation: Option<Installation>,
    }

    impl PullRequestPayload {
        pub fn into_event(self) -> PullRequestEvent {
            let label = self.label.map(|label| label.name).unwrap_or_default();
            let action = match self.action.as_str() {
                "labeled" => PullRequestAction::Labeled { label },
                "unlabeled" => PullRequestAction::Unlabeled { label },
                "synchronize" => PullRequestAction::Synchronize,
                "closed" => PullRequestAction::Closed,
                _ => PullRequestAction::Other(self.action),
            };
            let head = self.pull_request.head;
            let from_fork = head
                .repo
                .as_ref()
                .is_none_or(|repo| repo.id != self.repository.id);
            PullRequestEvent {
                action,
                number: self.pull_request.number,
                head_sha: head.sha,
                head_ref: head.branch,
                head_clone_url: head.repo.and_then(|repo| repo.clone_url),
                from_fork,
                base_ref: self.pull_request.base.branch,
                base_sha: self.pull_request.base.sha,
                installation_id: self.installation.map(|installation| installation.id),
                repository: self.repository,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct WorkflowRunPayload {
        pub action: String,
        pub workflow_run: crate::WorkflowRun,
        pub repository: RepoRef,
        pub installation: Option<Installation>,
    }

    #[derive(Deserialize)]
    pub struct NamedRepo {
        pub full_name: String,
    }

    #[derive(Deserialize)]
    pub struct InstallationPayload {
        pub action: String,
        pub installation: Installation,
        #[serde(default)]
        pub repositories: Vec<NamedRepo>,
        #[serde(default)]
        pub repositories_added: Vec<NamedRepo>,
        #[serde(default)]
        pub repositories_removed: Vec<NamedRepo>,
    }

    impl InstallationPayload {
        pub fn into_event(self) -> InstallationEvent {
            let names = |repos: Vec<NamedRepo>| repos.into_iter().map(|repo| repo.full_name).collect::<Vec<_>>();
            let mut added = names(self.repositories_added);
            let mut removed = names(self.repositories_removed);
            // `installation` events list the repositories in `repositories`:
            // all of them are granted on `created` and revoked on `deleted`.
            match self.action.as_str() {
                "deleted" => removed.extend(names(self.repositories)),
                _ => added.extend(names(self.repositories)),
            }
            InstallationEvent {
                action: self.action,
                installation_id: self.installation.id,
                account: self.installation.account.map(|account| account.login),
                added,
                removed,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Issue {
        pub number: i64,
        /// Present, as an object of links, only on pull requests.
        pub pull_request: Option<serde_json::Value>,
    }

    #[derive(Deserialize)]
    pub struct User {
        pub login: String,
        #[serde(rename = "type")]
        pub kind: String,
    }

    #[derive(Deserialize)]
    pub struct Comment {
        pub id: i64,
        #[serde(default)]
        pub body: Option<String>,
        pub user: User,
        pub author_association: String,
    }

    #[derive(Deserialize)]
    pub struct IssueCommentPayload {
        pub action: String,
        pub issue: Issue,
        pub comment: Comment,
        pub repository: RepoRef,
        pub installation: Option<Installation>,
    }

    impl IssueCommentPayload {
        pub fn into_event(self) -> IssueCommentEvent {
            IssueCommentEvent {
                action: self.action,
                repository: self.repository,
                number: self.issue.number,
                on_pull_request: self.issue.pull_request.is_some(),
                comment_id: self.comment.id,
                body: self.comment.body.unwrap_or_default(),
                author: self.comment.user.login,
                author_association: self.comment.author_association,
                author_is_bot: self.comment.user.kind == "Bot",
                installation_id: self.installation.map(|installation| installation.id),
            }
        }
    }
}
