//! The errors of GitHub REST calls, one variant for each way a call fails
//! that a caller may handle differently.

use std::time::Duration;

/// The failure of a GitHub REST call.
///
/// `request` fields hold the method and path (`PATCH /repos/o/r/issues/comments/1`),
/// never a query string, header or body, so errors are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// 404: the resource does not exist, or the credentials cannot see it.
    #[error(
        "GitHub returned 404 Not Found for {request}: the resource does not exist or these credentials cannot see it"
    )]
    NotFound { request: String },

    /// 401: the token is invalid or expired, even after minting a new
    /// installation token once.
    #[error("GitHub rejected the credentials (401) for {request}: {message}; check the App id, private key or token")]
    Unauthorized { request: String, message: String },

    /// 403 that is not a rate limit: the App or token lacks a permission.
    #[error("GitHub refused {request} (403): {message}; check the App's permissions or the token's scopes")]
    Forbidden { request: String, message: String },

    /// A rate limit that did not lift within the retry policy's limits.
    /// `retry_after` is the wait GitHub requested, when it named one.
    #[error("GitHub rate limit reached for {request}{}", retry_hint(*retry_after))]
    RateLimited {
        request: String,
        retry_after: Option<Duration>,
    },

    /// 422: GitHub rejected the request's content, for example a comment
    /// body over 65,536 characters. Retrying the same request cannot help.
    #[error("GitHub rejected {request} as invalid (422): {message}")]
    Validation { request: String, message: String },

    /// 5xx on every attempt.
    #[error("GitHub failed with server error {status} for {request} on every attempt")]
    Server { request: String, status: u16 },

    /// No response: the connection failed or the request timed out.
    #[error("request {request} to GitHub failed: {source}")]
    Transport {
        request: String,
        #[source]
        source: TransportError,
    },

    /// A status or body pitot does not expect from this endpoint.
    #[error("GitHub returned an unexpected response to {request} (status {status}): {message}")]
    UnexpectedResponse {
        request: String,
        status: u16,
        message: String,
    },

    /// An argument that cannot form a valid request, such as a repository
    /// name without a slash; nothing was sent.
    #[error("invalid input for a GitHub request: {0}")]
    InvalidInput(String),

    /// GitHub App credentials act for one installation at a time, and the
    /// client was not given one.
    #[error("the GitHub client has App credentials but no installation id; use GitHubClient::for_installation")]
    NoInstallation,
}

/// The reason a request got no HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
    #[error("connection or protocol error: {0}")]
    Http(#[source] octocrab::Error),
}

impl GitHubError {
    /// Returns whether a request that failed this way may still have taken
    /// effect on GitHub: a timeout, a dropped connection or a 5xx can come
    /// after GitHub stored the change.
    pub fn may_have_taken_effect(&self) -> bool {
        matches!(self, GitHubError::Server { .. } | GitHubError::Transport { .. })
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; GitHub asked to wait {}s before retrying", wait.as_secs_f64().ceil()),
        None => String::new(),
    }
}
