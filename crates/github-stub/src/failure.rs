//! Failures the stand-in can inject, and the responses GitHub sends for each.
//!
//! Rate-limit responses follow GitHub's "Rate limits for the REST API": a
//! primary limit returns 403 or 429 with `x-ratelimit-remaining: 0` and the
//! reset time in `x-ratelimit-reset` (UTC epoch seconds); a secondary limit
//! returns 403 or 429 with a message naming it and often a `retry-after`
//! header in seconds.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A selector of requests for a planned failure: a method (or any) and a
/// path pattern whose `*` segments match any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMatch {
    method: Option<Method>,
    path: String,
}

impl RequestMatch {
    /// Matches every request.
    pub fn any() -> RequestMatch {
        RequestMatch {
            method: None,
            path: "**".into(),
        }
    }

    /// Matches requests with `method` whose path matches `path`.
    pub fn new(method: Method, path: &str) -> RequestMatch {
        RequestMatch {
            method: Some(method),
            path: path.into(),
        }
    }

    /// Matches `GET` requests to `path`.
    pub fn get(path: &str) -> RequestMatch {
        RequestMatch::new(Method::GET, path)
    }

    /// Matches `POST` requests to `path`.
    pub fn post(path: &str) -> RequestMatch {
        RequestMatch::new(Method::POST, path)
    }

    /// Matches `PATCH` requests to `path`.
    pub fn patch(path: &str) -> RequestMatch {
        RequestMatch::new(Method::PATCH, path)
    }

    /// Returns whether a request with `method` and `path` (no query) matches.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|expected| expected != method) {
            return false;
        }
        if self.path == "**" {
            return true;
        }
        let mut expected = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (expected.next(), actual.next()) {
                (None, None) => return true,
                (Some(pattern), Some(segment)) if pattern == "*" || pattern == segment => {}
                _ => return false,
            }
        }
    }
}

/// A way for the stand-in to fail a request, as GitHub sometimes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 500 Internal Server Error, before handling the request.
    InternalServerError,
    /// 502 Bad Gateway, before handling the request.
    BadGateway,
    /// Handles the request (so a POST takes effect), then returns 502 Bad
    /// Gateway in place of the response: the client cannot tell whether
    /// the request took effect.
    BadGatewayAfterHandling,
    /// Handles the request (so a POST is stored), then waits this long before
    /// responding: a client timeout shorter than this cannot tell whether the
    /// request took effect.
    DelayAfterHandling(Duration),
    /// Waits this long, then returns 504 Gateway Timeout without handling
    /// the request.
    DelayWithoutHandling(Duration),
    /// 401 Bad credentials, as for an expired or revoked token.
    Unauthorized,
    /// 403 with `retry-after` (seconds): a secondary rate limit.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 429 with `retry-after` (seconds).
    TooManyRequests { retry_after_secs: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` this many
    /// seconds from now: the primary rate limit is used up.
    PrimaryRateLimit { reset_after_secs: u64 },
    /// 404 Not Found.
    NotFound,
    /// 422 Unprocessable Entity, as for a comment body that is too long.
    ValidationFailed,
    /// 410 Gone, as for the download of an artifact that has expired.
    Gone,
}

/// A failure waiting for the next `remaining` matching requests.
#[derive(Debug, Clone)]
pub(crate) struct PlannedFailure {
    pub matcher: RequestMatch,
    pub failure: Failure,
    pub remaining: usize,
}

impl Failure {
    /// Returns the response for a failure that responds at once, or `None`
    /// for the delays and the failures after handling, which the router
    /// handles.
    pub(crate) fn response(self) -> Option<Response> {
        let response = match self {
            Failure::InternalServerError => github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
            Failure::BadGateway => bad_gateway(),
            Failure::BadGatewayAfterHandling
            | Failure::DelayAfterHandling(_)
            | Failure::DelayWithoutHandling(_) => return None,
            Failure::Unauthorized => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
            Failure::SecondaryRateLimit { retry_after_secs } => {
                secondary_rate_limit(StatusCode::FORBIDDEN, retry_after_secs)
            }
            Failure::TooManyRequests { retry_after_secs } => {
                secondary_rate_limit(StatusCode::TOO_MANY_REQUESTS, retry_after_secs)
            }
            Failure::PrimaryRateLimit { reset_after_secs } => primary_rate_limit(reset_after_secs),
            Failure::NotFound => github_error(StatusCode::NOT_FOUND, "Not Found"),
            Failure::ValidationFailed => validation_failed("Body is too long (maximum is 65536 characters)"),
            Failure::Gone => github_error(StatusCode::GONE, "Artifact has expired"),
        };
        Some(response)
    }
}

/// Returns GitHub's JSON error body with `status`.
pub(crate) fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_str(),
    });
    (status, axum::Json(body)).into_response()
}

/// Returns a 422 Validation Failed naming one problem with the body's data.
pub(crate) fn validation_failed(problem: &str) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": [{ "resource": "IssueComment", "code": "unprocessable", "field": "data", "message": problem }],
        "documentation_url": "https://docs.github.com/rest",
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

/// Returns a 502 as GitHub's front end sends it: an HTML page, not JSON.
pub(crate) fn bad_gateway() -> Response {
    let mut response = (
        StatusCode::BAD_GATEWAY,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
        .into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/html"));
    response
}

/// Returns a 504 for a request the stand-in gave up on without handling it.
pub(crate) fn gateway_timeout() -> Response {
    github_error(
        StatusCode::GATEWAY_TIMEOUT,
        "We couldn't respond to your request in time.",
    )
}

fn secondary_rate_limit(status: StatusCode, retry_after_secs: u64) -> Response {
    let mut response = github_error(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    );
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after_secs));
    response
}

fn primary_rate_limit(reset_after_secs: u64) -> Response {
    let reset = chrono::Utc::now().timestamp().unsigned_abs() + reset_after_secs;
    let mut response = github_error(StatusCode::FORBIDDEN, "API rate limit exceeded for installation.");
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(5000));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
    headers.insert("x-ratelimit-used", HeaderValue::from(5000));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_match_whole_segments() {
        let cases = [
            ("/repos/o/r/issues/comments/*", "/repos/o/r/issues/comments/17", true),
            ("/repos/o/r/issues/comments/*", "/repos/o/r/issues/comments", false),
            (
                "/repos/o/r/issues/comments/*",
                "/repos/o/r/issues/comments/17/reactions",
                false,
            ),
            ("/repos/*/*/check-runs", "/repos/o/r/check-runs", true),
            ("/repos/o/r/check-runs", "/repos/o/other/check-runs", false),
        ];

        for (pattern, path, expected) in cases {
            let matched = RequestMatch::patch(pattern).matches(&Method::PATCH, path);

            assert_eq!(matched, expected, "pattern {pattern} against {path}");
        }
    }

    #[test]
    fn method_must_match_unless_any() {
        let post = RequestMatch::post("/repos/o/r/issues/1/comments");

        assert!(!post.matches(&Method::GET, "/repos/o/r/issues/1/comments"));
        assert!(RequestMatch::any().matches(&Method::GET, "/anything"));
    }
}
