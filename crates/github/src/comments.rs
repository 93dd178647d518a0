//! The sticky pull request comment: one comment per pull request, created
//! once and edited in place on every later report.
//!
//! The comment carries a hidden marker, an HTML comment on a line of its own
//! (`<!-- pitot:sticky owner/name/17 -->`), so pitot can find it again when
//! it lost the comment id. Anyone can copy the marker into a comment, so a
//! search matches only comments that pitot's own account wrote (see
//! [`Identity::is_author`](crate::identity::Identity::is_author)). Issue
//! comment endpoints are those of GitHub's "REST API endpoints for issue
//! comments"; a pull request number works as an issue number there.

use std::borrow::Cow;

use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::client::GitHubClient;
use crate::error::GitHubError;
use crate::identity::Account;
use crate::transport::{repo_path, AuthKind, Call};

/// The largest page GitHub serves.
const PER_PAGE: u32 = 100;

/// Pages read at most when looking for the marker (30,000 comments); a
/// guard against a `Link` header that never ends.
const MAX_COMMENT_PAGES: u32 = 300;

/// The comment that an upsert wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRef {
    pub id: u64,
    /// The comment's address in the web interface.
    pub html_url: String,
    /// `true` when this call created the comment, `false` when it edited one.
    pub created: bool,
}

/// An issue comment as GitHub returns it, reduced to what pitot reads.
#[derive(Debug, Deserialize)]
struct IssueComment {
    id: u64,
    html_url: String,
    #[serde(default)]
    body: Option<String>,
    /// The author; `null` for a deleted account.
    #[serde(default)]
    user: Option<Account>,
}

impl IssueComment {
    fn into_ref(self, created: bool) -> CommentRef {
        CommentRef {
            id: self.id,
            html_url: self.html_url,
            created,
        }
    }
}

/// Returns the hidden marker of pitot's sticky comment on pull request
/// `pr_number` of `repo` (`owner/name`).
pub fn sticky_marker(repo: &str, pr_number: u64) -> String {
    format!("<!-- pitot:sticky {repo}/{pr_number} -->")
}

/// Returns the hidden marker of pitot's reply to the `/pitot` command in
/// comment `comment_id` of `repo`, so that a retried command edits its
/// reply instead of posting a second one.
pub fn reply_marker(repo: &str, comment_id: u64) -> String {
    format!("<!-- pitot:reply {repo}/{comment_id} -->")
}

impl GitHubClient {
    /// Writes `body` as pitot's single comment on pull request `pr_number`,
    /// creating it only when no comment with `marker` exists.
    ///
    /// With `known_comment_id` (the id stored from an earlier report) the
    /// comment is edited directly, without checking its author, so it must
    /// be an id that this function returned. When that
    /// comment was deleted, or no id is known, every page of the pull
    /// request's comments is searched for a line equal to `marker` in a
    /// comment written by the account pitot acts as. The oldest match is
    /// edited. Only when there is no match is a comment created. `marker`
    /// must be an HTML comment on one line (see [`sticky_marker`]); it is
    /// appended to `body` when missing.
    ///
    /// Two callers upserting the same pull request at the same moment can
    /// both create a comment; callers run one report job per pull request.
    #[tracing::instrument(skip_all, fields(repo = %repo, pr = pr_number, comment_id = known_comment_id))]
    pub async fn upsert_sticky_comment(
        &self,
        repo: &str,
        pr_number: u64,
        known_comment_id: Option<u64>,
        marker: &str,
        body: &str,
    ) -> Result<CommentRef, GitHubError> {
        let repo = repo_path(repo)?;
        let marker = checked_marker(marker)?;
        let body = with_marker(body, marker);

        if let Some(comment_id) = known_comment_id {
            match self.edit_comment(repo, comment_id, &body).await {
                Ok(comment) => return Ok(comment.into_ref(false)),
                Err(GitHubError::NotFound { .. }) => {
                    tracing::info!(
                        comment_id,
                        "the stored pitot comment no longer exists; searching by marker"
                    );
                }
                Err(error) => return Err(error),
            }
        }

        if let Some(existing) = self.find_comment_by_marker(repo, pr_number, marker).await? {
            tracing::Span::current().record("comment_id", existing.id);
            match self.edit_comment(repo, existing.id, &body).await {
                Ok(comment) => return Ok(comment.into_ref(false)),
                // Deleted between the search and the edit: create a new one.
                Err(GitHubError::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }

        let created = self.create_comment(repo, pr_number, marker, &body).await?;
        tracing::Span::current().record("comment_id", created.id);
        tracing::info!(
            comment_id = created.id,
            created = created.created,
            "wrote the pitot pull request comment"
        );
        Ok(created)
    }

    /// Creates the comment. A timeout or 5xx may come after GitHub stored
    /// it, so before each retry the comments are searched for the marker and
    /// a stored copy is returned instead of posting a second one.
    async fn create_comment(
        &self,
        repo: &str,
        pr_number: u64,
        marker: &str,
        body: &str,
    ) -> Result<CommentRef, GitHubError> {
        let policy = &self.shared.settings.retry;
        let call = Call {
            method: Method::POST,
            target: format!("/repos/{repo}/issues/{pr_number}/comments"),
            body: Some(serde_json::json!({ "body": body })),
            idempotent: false,
            auth: AuthKind::Installation,
        };
        let mut attempt = 1;
        loop {
            let error = match self.send(&call).await {
                Ok(response) => return Ok(response.json::<IssueComment>(&call)?.into_ref(true)),
                Err(error) if error.may_have_taken_effect() && attempt < policy.max_attempts => error,
                Err(error) => return Err(error),
            };

            let wait = policy.backoff(attempt);
            tracing::warn!(
                attempt,
                max_attempts = policy.max_attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                %error,
                "creating the pitot comment may have failed; checking for it by marker before retrying"
            );
            tokio::time::sleep(wait).await;
            if let Some(stored) = self.find_comment_by_marker(repo, pr_number, marker).await? {
                return self.settle_stored_comment(repo, stored, body).await;
            }
            attempt += 1;
        }
    }

    /// Finishes a create whose first attempt turned out to be stored: the
    /// body is ours unless another writer got there first, then it is edited.
    async fn settle_stored_comment(
        &self,
        repo: &str,
        stored: IssueComment,
        body: &str,
    ) -> Result<CommentRef, GitHubError> {
        if stored.body.as_deref() == Some(body) {
            return Ok(stored.into_ref(true));
        }
        Ok(self.edit_comment(repo, stored.id, body).await?.into_ref(false))
    }

    /// Replaces the body of comment `comment_id`.
    async fn edit_comment(&self, repo: &str, comment_id: u64, body: &str) -> Result<IssueComment, GitHubError> {
        let call = Call {
            method: Method::PATCH,
            target: format!("/repos/{repo}/issues/comments/{comment_id}"),
            body: Some(serde_json::json!({ "body": body })),
            idempotent: true,
            auth: AuthKind::Installation,
        };
        self.send(&call).await?.json(&call)
    }

    /// Returns the oldest comment on the pull request that pitot's account
    /// wrote with a line equal to `marker`, following `Link: rel="next"`
    /// through every page.
    async fn find_comment_by_marker(
        &self,
        repo: &str,
        pr_number: u64,
        marker: &str,
    ) -> Result<Option<IssueComment>, GitHubError> {
        let mut target = format!("/repos/{repo}/issues/{pr_number}/comments?per_page={PER_PAGE}");
        for _ in 0..MAX_COMMENT_PAGES {
            let call = Call {
                method: Method::GET,
                target,
                body: None,
                idempotent: true,
                auth: AuthKind::Installation,
            };
            let response = self.send(&call).await?;
            let comments: Vec<IssueComment> = response.json(&call)?;
            for comment in comments {
                if has_marker(comment.body.as_deref(), marker)
                    && self.is_own_account(comment.user.as_ref()).await?
                {
                    return Ok(Some(comment));
                }
            }
            match next_link(&response.headers) {
                Some(next) => target = next,
                None => return Ok(None),
            }
        }
        Err(GitHubError::UnexpectedResponse {
            request: format!("GET /repos/{repo}/issues/{pr_number}/comments"),
            status: 200,
            message: format!("the comments did not end within {MAX_COMMENT_PAGES} pages of {PER_PAGE}"),
        })
    }
}

/// Checks that `marker` is a one-line HTML comment, which GitHub's markdown
/// renders invisibly, and returns it trimmed.
pub(crate) fn checked_marker(marker: &str) -> Result<&str, GitHubError> {
    let marker = marker.trim();
    let inner = marker.strip_prefix("<!--").and_then(|rest| rest.strip_suffix("-->"));
    match inner {
        Some(inner) if !inner.trim().is_empty() && !marker.contains('\n') => Ok(marker),
        _ => Err(GitHubError::InvalidInput(format!(
            "the sticky comment marker {marker:?} must be a non-empty HTML comment on one line, such as <!-- pitot:sticky o/r/1 -->"
        ))),
    }
}

/// Returns whether `body` has a line that is exactly `marker`. Matching
/// whole lines keeps a quote of the comment (`> <!-- ... -->`) from matching.
pub(crate) fn has_marker(body: Option<&str>, marker: &str) -> bool {
    body.is_some_and(|body| body.lines().any(|line| line.trim() == marker))
}

pub(crate) fn with_marker<'a>(body: &'a str, marker: &str) -> Cow<'a, str> {
    if has_marker(Some(body), marker) {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(format!("{body}\n\n{marker}\n"))
    }
}

/// Returns the `rel="next"` URL of a `Link` header (RFC 8288), if any.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel == "next")
        });
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_reads_github_link_headers() {
        let cases = [
            (
                "middle page",
                r#"<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=1>; rel="prev", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel="last""#,
                Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3"),
            ),
            (
                "last page",
                r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=1>; rel="first""#,
                None,
            ),
            (
                "several rels",
                r#"<https://x/a?page=2>; rel="next last""#,
                Some("https://x/a?page=2"),
            ),
            ("malformed", "https://x/a?page=2; rel=next", None),
        ];

        for (case, header, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert("link", header.parse().unwrap());

            assert_eq!(next_link(&headers).as_deref(), expected, "{case}");
        }
    }

    #[test]
    fn marker_must_be_a_whole_line() {
        let marker = "<!-- pitot:sticky o/r/1 -->";
        let cases = [
            ("own line", "results\n\n<!-- pitot:sticky o/r/1 -->\n", true),
            ("indented", "results\n  <!-- pitot:sticky o/r/1 -->", true),
            ("quoted by someone", "> <!-- pitot:sticky o/r/1 -->\nI agree", false),
            ("another pull request", "<!-- pitot:sticky o/r/12 -->", false),
            ("inside a line", "see <!-- pitot:sticky o/r/1 --> here", false),
        ];

        for (case, body, expected) in cases {
            assert_eq!(has_marker(Some(body), marker), expected, "{case}");
        }
    }

    #[test]
    fn marker_is_appended_once() {
        let marker = "<!-- pitot:sticky o/r/1 -->";

        let appended = with_marker("results", marker);
        let unchanged = with_marker(&appended, marker);

        assert_eq!(appended, "results\n\n<!-- pitot:sticky o/r/1 -->\n");
        assert_eq!(unchanged, appended);
    }

    #[test]
    fn visible_or_empty_markers_rejected() {
        let bad = ["", "   ", "pitot", "<!-- -->", "<!-- a\nb -->"];

        for marker in bad {
            assert!(checked_marker(marker).is_err(), "accepted {marker:?}");
        }
        assert_eq!(
            checked_marker(&sticky_marker("o/r", 1)).unwrap(),
            "<!-- pitot:sticky o/r/1 -->"
        );
    }
}
