//! The GitHub calls behind pull request commands: reading the pull
//! request's current head, reacting to the command's comment, and replying.

use http::Method;

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
