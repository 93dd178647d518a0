//! The GitHub calls behind release reports and nightly history: reading a
//! repository ("Get a repository"), resolving a ref to its commit
//! ("Get a commit"), peeling a pushed tag object ("Get a tag" of the Git
//! database API), listing releases ("List releases") and tags ("List
//! repository tags"), commit comments
//! ("Create a commit comment", "Update a commit comment") and the
//! regression issue ("List repository issues", "Create an issue", "Update
//! an issue").
//!
//! The commit comment and the issue are found again by a hidden marker, but
//! only among those that pitot's own account wrote, because anyone can copy
//! a marker into a comment or an issue.

use http::Method;
use serde::Deserialize;

use crate::client::GitHubClient;
use crate::comments::{checked_marker, has_marker, next_link, with_marker};
use crate::error::GitHubError;
use crate::identity::Account;
use crate::percent::encode_segment;
use crate::transport::{repo_path, AuthKind, Call};

/// Pages of releases, tags or issues read at most (10,000 items).
const MAX_PAGES: u32 = 100;

/// Annotated tags followed at most when a tag points at another tag.
const MAX_TAG_DEPTH: usize = 8;

/// A release as "List releases" returns it, reduced to what pitot reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseInfo {
    pub tag_name: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
}

/// A tag as "List repository tags" returns it, reduced to what pitot reads.
#[derive(Deserialize)]
struct TagListing {
    name: String,
}

/// An annotated tag object as "Get a tag" returns it.
#[derive(Deserialize)]
struct TagObject {
    object: GitObject,
}

/// The object a tag points at.
#[derive(Deserialize)]
struct GitObject {
    /// `commit`, `tag`, `tree` or `blob`.
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(Deserialize)]
struct CommitInfo {
    sha: String,
    #[serde(default)]
    parents: Vec<ParentInfo>,
}

#[derive(Deserialize)]
struct ParentInfo {
    sha: String,
}

/// A repository as "Get a repository" returns it, reduced to what pitot reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepositoryInfo {
    pub default_branch: String,
    pub clone_url: String,
}

#[derive(Deserialize)]
struct CreatedId {
    id: u64,
}

/// A commit comment as "List commit comments" returns it, reduced to what
/// pitot reads.
#[derive(Deserialize)]
struct CommitComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    /// The author; `null` for a deleted account.
    #[serde(default)]
    user: Option<Account>,
}

#[derive(Deserialize)]
struct IssueInfo {
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    /// Present on pull requests, which the issues list includes.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
    /// The author; `null` for a deleted account.
    #[serde(default)]
    user: Option<Account>,
}

impl GitHubClient {
    /// Returns the commit that `git_ref` (a tag, a branch or a hash) of
    /// `repo` points to. A tag is peeled to its commit by the endpoint.
    #[tracing::instrument(skip(self))]
    pub async fn commit_of_ref(&self, repo: &str, git_ref: &str) -> Result<String, GitHubError> {
        Ok(self.get_commit(repo, git_ref).await?.sha)
    }

    /// Returns the commit behind `sha`, the object a tag push set a tag
    /// to. A lightweight tag's object is the commit, returned as it is. An
    /// annotated tag's object is a tag object, which is peeled to the
    /// commit it points to, through tags of tags. Fails when the tag
    /// points at a tree or a blob.
    #[tracing::instrument(skip(self))]
    pub async fn peel_tag(&self, repo: &str, sha: &str) -> Result<String, GitHubError> {
        let repo_path = repo_path(repo)?;
        let mut object = sha.to_owned();
        for _ in 0..MAX_TAG_DEPTH {
            let call = Call {
                method: Method::GET,
                target: format!("/repos/{repo_path}/git/tags/{}", encode_segment(&object)),
                body: None,
                idempotent: true,
                auth: AuthKind::Installation,
            };
            let tag: TagObject = match self.send(&call).await {
                Ok(response) => response.json(&call)?,
                // GitHub has no tag object of that id, so a lightweight tag
                // named the object; "Get a commit" checks that it is a commit.
                // NOTE: GitHub's reference does not say which status "Get a
                // tag" returns for a commit's id, so both 404 and 422 count.
                Err(GitHubError::NotFound { .. }) | Err(GitHubError::Validation { .. }) => {
                    return Ok(self.get_commit(repo, &object).await?.sha);
                }
                Err(error) => return Err(error),
            };
            match tag.object.kind.as_str() {
                "commit" => return Ok(tag.object.sha),
                "tag" => object = tag.object.sha,
                other => {
                    return Err(GitHubError::UnexpectedResponse {
                        request: call.describe(),
                        status: 200,
                        message: format!(
                            "tag object {object} points at a {other}, not a commit, so there is nothing to benchmark"
                        ),
                    })
                }
            }
        }
        Err(GitHubError::UnexpectedResponse {
            request: format!("GET /repos/{repo_path}/git/tags/{sha}"),
            status: 200,
            message: format!("the tag did not reach a commit within {MAX_TAG_DEPTH} tag objects"),
        })
    }

    /// Returns the commit that `git_ref` points to and its first parent,
    /// `None` for a root commit.
    #[tracing::instrument(skip(self))]
    pub async fn commit_and_parent(
        &self,
        repo: &str,
        git_ref: &str,
    ) -> Result<(String, Option<String>), GitHubError> {
        let commit = self.get_commit(repo, git_ref).await?;
        let parent = commit.parents.into_iter().next().map(|parent| parent.sha);
        Ok((commit.sha, parent))
    }

    async fn get_commit(&self, repo: &str, git_ref: &str) -> Result<CommitInfo, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}/commits/{}", encode_segment(git_ref)),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?.json(&call)
    }

    /// Returns `repo`'s default branch and clone URL.
    #[tracing::instrument(skip(self))]
    pub async fn repository(&self, repo: &str) -> Result<RepositoryInfo, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!("/repos/{repo}"),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?.json(&call)
    }

    /// Returns the numbers of the pull requests that brought commit `sha`
    /// into `repo` ("List pull requests associated with a commit").
    #[tracing::instrument(skip(self))]
    pub async fn pull_requests_of_commit(
        &self,
        repo: &str,
        sha: &str,
    ) -> Result<Vec<u64>, GitHubError> {
        #[derive(Deserialize)]
        struct Pull {
            number: u64,
        }
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::GET,
            target: format!(
                "/repos/{repo}/commits/{}/pulls?per_page=100",
                encode_segment(sha)
            ),
            body: None,
            idempotent: true,
            auth: AuthKind::Installation,
        };
        let pulls: Vec<Pull> = self.send(&call).await?.json(&call)?;
        Ok(pulls.into_iter().map(|pull| pull.number).collect())
    }

    /// Returns every release of `repo`, drafts included, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list_releases(&self, repo: &str) -> Result<Vec<ReleaseInfo>, GitHubError> {
        let repo = repo_path(repo)?;
        self.all_pages(&format!("/repos/{repo}/releases?per_page=100"))
            .await
    }

    /// Returns the names of every tag of `repo`, in GitHub's order.
    #[tracing::instrument(skip(self))]
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>, GitHubError> {
        let repo = repo_path(repo)?;
        let tags: Vec<TagListing> = self
            .all_pages(&format!("/repos/{repo}/tags?per_page=100"))
            .await?;
        Ok(tags.into_iter().map(|tag| tag.name).collect())
    }

    /// Posts `body` as a comment on commit `sha` and returns its id. Not
    /// retried once the request may have reached GitHub: callers that may
    /// try again use [`GitHubClient::upsert_commit_comment`].
    #[tracing::instrument(skip(self, body))]
    pub async fn create_commit_comment(
        &self,
        repo: &str,
        sha: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/commits/{}/comments", encode_segment(sha)),
            body: Some(serde_json::json!({ "body": body })),
            idempotent: false,
            auth: AuthKind::Installation,
        };
        let created: CreatedId = self.send(&call).await?.json(&call)?;
        Ok(created.id)
    }

    /// Writes `body` as pitot's comment on commit `sha` and returns its id.
    /// The comment carries `marker`, an HTML comment on one line that is
    /// appended to `body` when missing. The oldest comment with the marker
    /// that pitot's account wrote is edited, and only without one is a
    /// comment created. A create that failed after GitHub stored it is
    /// found by its marker on the caller's next try, so a retry never
    /// leaves two copies.
    #[tracing::instrument(skip(self, body))]
    pub async fn upsert_commit_comment(
        &self,
        repo: &str,
        sha: &str,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let repo = repo_path(repo)?;
        let marker = checked_marker(marker)?;
        let body = with_marker(body, marker);
        let comments: Vec<CommitComment> = self
            .all_pages(&format!(
                "/repos/{repo}/commits/{}/comments?per_page=100",
                encode_segment(sha)
            ))
            .await?;
        for comment in comments {
            if has_marker(comment.body.as_deref(), marker)
                && self.is_own_account(comment.user.as_ref()).await?
            {
                self.update_commit_comment(repo, comment.id, &body).await?;
                return Ok(comment.id);
            }
        }
        self.create_commit_comment(repo, sha, &body).await
    }

    /// Replaces the body of commit comment `comment_id`.
    #[tracing::instrument(skip(self, body))]
    pub async fn update_commit_comment(
        &self,
        repo: &str,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let repo = repo_path(repo)?;
        let call = Call {
            method: Method::PATCH,
            target: format!("/repos/{repo}/comments/{comment_id}"),
            body: Some(serde_json::json!({ "body": body })),
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?;
        Ok(())
    }

    /// Writes the issue titled `title` and returns its number. The issue
    /// edited is `known_number` when given and not deleted, else the open
    /// issue with that title that pitot's account opened and whose body
    /// contains `marker`. Without either, a new issue is created.
    /// `known_number` is edited without checking its author, so it must be
    /// a number that this function returned.
    #[tracing::instrument(skip(self, body))]
    pub async fn upsert_issue(
        &self,
        repo: &str,
        known_number: Option<u64>,
        title: &str,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let repo = repo_path(repo)?;
        let body = format!("{body}\n\n{marker}\n");
        let found = match known_number {
            Some(number) => Some(number),
            None => self.find_open_issue(repo, title, marker).await?,
        };
        if let Some(number) = found {
            let call = Call {
                method: Method::PATCH,
                target: format!("/repos/{repo}/issues/{number}"),
                body: Some(serde_json::json!({ "body": body })),
                idempotent: true,
                auth: AuthKind::Installation,
            };
            match self.send(&call).await {
                Ok(_) => return Ok(number),
                Err(GitHubError::NotFound { .. }) if known_number.is_some() => {}
                Err(error) => return Err(error),
            }
        }
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/issues"),
            body: Some(serde_json::json!({ "title": title, "body": body })),
            idempotent: false,
            auth: AuthKind::Installation,
        };
        let created: IssueInfo = self.send(&call).await?.json(&call)?;
        Ok(created.number)
    }

    /// Returns the open issue titled `title` that pitot's account opened
    /// and whose body has a line equal to `marker`, so that an issue that
    /// someone else opened with the same title and marker is left alone.
    async fn find_open_issue(
        &self,
        repo: &str,
        title: &str,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let issues: Vec<IssueInfo> = self
            .all_pages(&format!("/repos/{repo}/issues?state=open&per_page=100"))
            .await?;
        for issue in issues {
            let candidate = issue.pull_request.is_none()
                && issue.title == title
                && has_marker(issue.body.as_deref(), marker);
            if candidate && self.is_own_account(issue.user.as_ref()).await? {
                return Ok(Some(issue.number));
            }
        }
        Ok(None)
    }

    /// Reads a listing through every `Link: rel="next"` page.
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        first: &str,
    ) -> Result<Vec<T>, GitHubError> {
        let mut items = Vec::new();
        let mut target = first.to_owned();
        for _ in 0..MAX_PAGES {
            let call = Call {
                method: Method::GET,
                target,
                body: None,
                idempotent: true,
                auth: AuthKind::Installation,
            };
            let response = self.send(&call).await?;
            let page: Vec<T> = response.json(&call)?;
            items.extend(page);
            match next_link(&response.headers) {
                Some(next) => target = next,
                None => return Ok(items),
            }
        }
        Err(GitHubError::UnexpectedResponse {
            request: format!("GET {first}"),
            status: 200,
            message: format!("the listing did not end within {MAX_PAGES} pages"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("v1.2.3"), "v1.2.3");
        assert_eq!(encode_segment("release/1.0"), "release%2F1.0");
        assert_eq!(encode_segment("a b#c"), "a%20b%23c");
    }
}
