//! The GitHub calls behind pull request commands and comments: reading the
//! pull request's current head, reacting to the command's comment,
//! replying, and how far the target branch moved on since a run's base.

use http::Method;

use crate::actions::path_segment;
use crate::client::GitHubClient;
use crate::error::GitHubError;
use crate::transport::{repo_path, AuthKind, Call};

/// A pull request's state as the REST API returns it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestInfo {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub head_sha: String,
    /// The branch the pull request targets.
    pub base_ref: String,
}

/// The commits a branch gained, or lost, relative to an earlier commit of
/// it, such as a run's merge-base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchDrift {
    /// The number of commits on the branch that the commit does not contain.
    pub new_commits: u64,
    /// Whether the branch still contains the commit; `false` after a force
    /// push rewrote the branch's history without it.
    pub contains_commit: bool,
}

/// A reaction pitot puts on a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// A command was accepted and a job queued: 🚀.
    Rocket,
    /// A command was carried out: 👍.
    ThumbsUp,
}

impl Reaction {
    /// Returns the reaction's name in GitHub's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Rocket => "rocket",
            Reaction::ThumbsUp => "+1",
        }
    }
}

mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Head {
        pub sha: String,
    }

    #[derive(Deserialize)]
    pub struct BaseBranch {
        #[serde(rename = "ref")]
        pub branch: String,
    }

    /// The counts of "Compare two commits".
    #[derive(Deserialize)]
    pub struct Comparison {
        pub ahead_by: u64,
        pub behind_by: u64,
    }

    #[derive(Deserialize)]
    pub struct PullRequest {
        pub number: u64,
        pub state: String,
        pub head: Head,
        pub base: BaseBranch,
    }
}

impl GitHubClient {
    /// Returns pull request `number` of `repo` as it is now.
    #[tracing::instrument(skip(self))]
    pub async fn pull_request(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestInfo, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}/pulls/{number}"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let pull: wire::PullRequest = self.send(&call).await?.json(&call)?;
        Ok(PullRequestInfo {
            number: pull.number,
            state: pull.state,
            head_sha: pull.head.sha,
            base_ref: pull.base.branch,
        })
    }

    /// Returns how `branch` of `repo` moved on since `commit`, from "Compare
    /// two commits" (`GET /repos/{repo}/compare/{branch}...{commit}`).
    ///
    /// GitHub counts as `git log BASE..HEAD` does: `behind_by` is the
    /// branch's commits that `commit` lacks, `ahead_by` the commits of
    /// `commit` that the branch lacks. With the branch as the base, a commit
    /// on the branch has no commits or changed files of its own, so the
    /// response stays small however far the branch moved.
    ///
    /// The call is sent once: callers show the result as an optional note
    /// and must not wait for retries.
    #[tracing::instrument(skip(self))]
    pub async fn branch_drift(
        &self,
        repo: &str,
        branch: &str,
        commit: &str,
    ) -> Result<BranchDrift, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            // One commit per page bounds the response when the branch no
            // longer contains `commit` and it has commits of its own.
            target: format!(
                "/repos/{repo}/compare/{}...{}?per_page=1",
                path_segment(branch)?,
                path_segment(commit)?
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let comparison: wire::Comparison = self.send_once(&call).await?.json(&call)?;
        Ok(BranchDrift {
            new_commits: comparison.behind_by,
            contains_commit: comparison.ahead_by == 0,
        })
    }

    /// Adds `reaction` to issue comment `comment_id`. GitHub returns the
    /// existing reaction when it is already there, so this is
    /// safe to retry.
    #[tracing::instrument(skip(self))]
    pub async fn react_to_comment(
        &self,
        repo: &str,
        comment_id: u64,
        reaction: Reaction,
    ) -> Result<(), GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/issues/comments/{comment_id}/reactions"),
            body: Some(serde_json::json!({ "content": reaction.as_str() })),
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?;
        Ok(())
    }

    /// Writes `body` as pitot's reply on pull request `number` and returns
    /// the comment's id. The reply carries `marker` (see [`reply_marker`]),
    /// so a command carried out again after a failure edits the reply that
    /// GitHub may have stored instead of posting a second one.
    ///
    /// [`reply_marker`]: crate::reply_marker
    #[tracing::instrument(skip(self, body))]
    pub async fn reply_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let written = self
            .upsert_sticky_comment(repo, number, None, marker, body)
            .await?;
        Ok(written.id)
    }
}
