//! The records the stand-in keeps, and the JSON GitHub returns for each.
//!
//! Field names and shapes follow GitHub's REST responses for issue comments
//! ("Create an issue comment") and check runs ("Create a check run") in API
//! version 2022-11-28; fields pitot does not read are filled with plausible
//! constants.

use std::time::Instant;

use axum::http::{HeaderMap, Method};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// A GitHub account as it appears in `user` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub login: String,
    pub id: u64,
    /// `User` or `Bot`.
    pub kind: &'static str,
}

impl User {
    /// Returns the account that seeded comments belong to.
    pub fn octocat() -> User {
        User {
            login: "octocat".into(),
            id: 583_231,
            kind: "User",
        }
    }

    /// Returns the test App's bot user, the author of what installation
    /// tokens create.
    pub fn test_app_bot() -> User {
        User {
            login: crate::TEST_APP_BOT_LOGIN.into(),
            id: 9_100_001,
            kind: "Bot",
        }
    }

    /// Returns the user behind [`crate::TEST_PERSONAL_TOKEN`].
    pub fn test_token_user() -> User {
        User {
            login: crate::TEST_USER_LOGIN.into(),
            id: 9_200_002,
            kind: "User",
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "login": self.login,
            "id": self.id,
            "node_id": format!("MDQ6VXNlcj{}", self.id),
            "type": self.kind,
            "site_admin": false,
        })
    }

    /// Returns the `performed_via_github_app` of what this account wrote:
    /// the test App for its bot user, `null` for everyone else.
    pub(crate) fn performed_via_app_json(&self) -> Value {
        if self.login == crate::TEST_APP_BOT_LOGIN {
            test_app_json()
        } else {
            Value::Null
        }
    }
}

/// Returns the test App as GitHub embeds an App in other objects (abridged).
pub(crate) fn test_app_json() -> Value {
    app_json(crate::TEST_APP_ID)
}

/// Returns App `app_id` as GitHub embeds an App in other objects
/// (abridged). An id other than [`crate::TEST_APP_ID`] gets the slug
/// `other-app-<id>`.
pub(crate) fn app_json(app_id: u64) -> Value {
    let (slug, name) = if app_id == crate::TEST_APP_ID {
        (crate::TEST_APP_SLUG.to_owned(), "pitot test".to_owned())
    } else {
        (format!("other-app-{app_id}"), format!("other app {app_id}"))
    };
    json!({
        "id": app_id,
        "slug": slug,
        "node_id": format!("A_kwDOstub{app_id}"),
        "name": name,
        "owner": User::octocat().to_json(),
    })
}

/// An issue or pull request comment held by the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    /// `owner/name`, as the client spelled it when creating the comment.
    pub repo: String,
    /// The issue or pull request number.
    pub number: u64,
    pub body: String,
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Comment {
    /// Returns the comment as GitHub's issue comment endpoints return it.
    pub(crate) fn to_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "node_id": format!("IC_kwDOstub{}", self.id),
            "url": format!("{base_url}/repos/{}/issues/comments/{}", self.repo, self.id),
            "html_url": self.html_url(),
            "issue_url": format!("{base_url}/repos/{}/issues/{}", self.repo, self.number),
            "body": self.body,
            "user": self.user.to_json(),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
            "author_association": "CONTRIBUTOR",
            "performed_via_github_app": self.user.performed_via_app_json(),
        })
    }

    /// Returns the comment's address in the web interface.
    pub fn html_url(&self) -> String {
        format!(
            "https://github.com/{}/pull/{}#issuecomment-{}",
            self.repo, self.number, self.id
        )
    }
}

/// The `output` of a check run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRunOutput {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
}

/// A check run held by the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    pub id: u64,
    pub repo: String,
    /// The App that created the run: [`crate::TEST_APP_ID`] for runs created
    /// through the API, another id for runs seeded as another App's.
    pub app_id: u64,
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed` (GitHub also has `waiting`,
    /// `requested` and `pending`, which only GitHub Actions sets).
    pub status: String,
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    pub output: CheckRunOutput,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl CheckRun {
    /// Returns the check run as GitHub's check run endpoints return it.
    pub(crate) fn to_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "node_id": format!("CR_kwDOstub{}", self.id),
            "head_sha": self.head_sha,
            "external_id": self.external_id.clone().unwrap_or_default(),
            "url": format!("{base_url}/repos/{}/check-runs/{}", self.repo, self.id),
            "html_url": format!("https://github.com/{}/runs/{}", self.repo, self.id),
            "details_url": self.details_url,
            "status": self.status,
            "conclusion": self.conclusion,
            "started_at": timestamp(self.started_at),
            "completed_at": self.completed_at.map(timestamp),
            "name": self.name,
            "output": {
                "title": self.output.title,
                "summary": self.output.summary,
                "text": self.output.text,
                "annotations_count": 0,
                "annotations_url": format!("{base_url}/repos/{}/check-runs/{}/annotations", self.repo, self.id),
            },
            "check_suite": { "id": 1 },
            "app": app_json(self.app_id),
            "pull_requests": [],
        })
    }
}

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    /// The path without the query, e.g. `/repos/octo/widgets/issues/7/comments`.
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The body parsed as JSON; `None` when it was empty or not JSON.
    pub body: Option<Value>,
    /// When the stand-in received the request, to check waits between retries.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// Returns the first value of header `name` as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns how many times header `name` was sent.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers.get_all(name).iter().count()
    }

    /// Returns the value of query parameter `name`, if present (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.query.as_deref()?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    /// Returns `METHOD /path?query`, for assertion messages.
    pub fn line(&self) -> String {
        match &self.query {
            Some(query) => format!("{} {}?{query}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// Formats a time as GitHub does: ISO 8601 in UTC with whole seconds.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A pull request as [`GitHubStub::set_pull_request`](crate::GitHubStub::set_pull_request)
/// stores it and `GET /repos/{owner}/{repo}/pulls/{number}` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
}
