//! Sending one REST call: headers, timeout, retries, and turning GitHub's
//! response into a value or a [`GitHubError`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use octocrab::OctoBody;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::GitHubClient;
use crate::error::{GitHubError, TransportError};
use crate::retry::{rate_limit_wait, retry_after};

/// The REST API version pitot is written against.
pub(crate) const API_VERSION: &str = "2022-11-28";

/// GitHub's recommended media type for REST requests.
const MEDIA_TYPE: &str = "application/vnd.github+json";

/// The maximum number of characters of an error body kept in an error message.
const MAX_MESSAGE_CHARS: usize = 300;

/// The credential a call sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    /// The installation token, or the personal token.
    Installation,
    /// The App's own JWT, only for minting installation tokens.
    AppJwt,
}

/// One REST call to send.
pub(crate) struct Call {
    pub method: Method,
    /// A path below the base URL (`/repos/...`, query included) or an
    /// absolute URL on the same host, as found in `Link` headers.
    pub target: String,
    pub body: Option<Value>,
    /// Whether sending the call twice is harmless. A call that is not
    /// idempotent is not retried after a timeout or 5xx, because the first
    /// attempt may have taken effect. Its caller checks, then retries.
    pub idempotent: bool,
    pub auth: AuthKind,
}

impl Call {
    /// Returns `METHOD /path` without the query, for logs and errors.
    pub fn describe(&self) -> String {
        let path = self
            .target
            .parse::<Uri>()
            .map(|uri| uri.path().to_owned())
            .unwrap_or_else(|_| self.target.clone());
        format!("{} {path}", self.method)
    }
}

/// A successful response, body read in full.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub headers: HeaderMap,
    pub body: String,
}

impl ApiResponse {
    /// Parses the body as `T`.
    pub fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|error| GitHubError::UnexpectedResponse {
            request: call.describe(),
            status: 200,
            message: format!("the body is not the JSON expected: {error}"),
        })
    }
}

/// A response with any status.
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// The step after a failed attempt.
enum Next {
    Retry { wait: Duration, reason: String },
    RefreshToken,
    Fail(GitHubError),
}

impl GitHubClient {
    /// Sends `call`, retrying as the client's [`RetryPolicy`](crate::RetryPolicy) allows.
    pub(crate) async fn send(&self, call: &Call) -> Result<ApiResponse, GitHubError> {
        let attempts = self.shared.settings.retry.max_attempts;
        self.send_accepting(call, |status| status.is_success(), attempts).await
    }

    /// Sends `call` once: a server error, timeout or rate limit fails at
    /// once instead of waiting for another attempt. Only a rejected
    /// installation token is replaced and the call sent again, as
    /// [`GitHubClient::send`] does. For optional calls whose caller must
    /// not wait.
    pub(crate) async fn send_once(&self, call: &Call) -> Result<ApiResponse, GitHubError> {
        self.send_accepting(call, |status| status.is_success(), 1).await
    }

    /// Sends `call` like [`GitHubClient::send`], but takes a redirect as the
    /// answer instead of an error, and returns its status with the response.
    pub(crate) async fn send_for_redirect(&self, call: &Call) -> Result<(StatusCode, ApiResponse), GitHubError> {
        let mut status = StatusCode::OK;
        let response = self
            .send_accepting(
                call,
                |answered| {
                    status = answered;
                    answered.is_success() || answered.is_redirection()
                },
                self.shared.settings.retry.max_attempts,
            )
            .await?;
        Ok((status, response))
    }

    async fn send_accepting(
        &self,
        call: &Call,
        mut accept: impl FnMut(StatusCode) -> bool,
        max_attempts: u32,
    ) -> Result<ApiResponse, GitHubError> {
        let mut attempt = 1;
        let mut refreshed_token = false;
        loop {
            let authorization = self.authorization(call.auth).await?;
            let request = self.build_request(call, &authorization)?;
            let outcome = self.exchange(request).await;
            let next = match outcome {
                Ok(response) if accept(response.status) => {
                    return Ok(ApiResponse {
                        headers: response.headers,
                        body: response.body,
                    });
                }
                Ok(response) => self.judge_status(call, response, attempt, attempt < max_attempts, refreshed_token),
                Err(source) => self.judge_transport(call, source, attempt, attempt < max_attempts),
            };
            match next {
                Next::Fail(error) => return Err(error),
                Next::RefreshToken => {
                    tracing::info!(
                        request = %call.describe(),
                        "GitHub rejected the installation token (401); minting a new one and retrying once"
                    );
                    self.forget_installation_token(&authorization).await;
                    refreshed_token = true;
                }
                Next::Retry { wait, reason } => {
                    tracing::warn!(
                        request = %call.describe(),
                        attempt,
                        max_attempts,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "retrying GitHub request: {reason}"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Decides what follows a response with an error status.
    fn judge_status(
        &self,
        call: &Call,
        response: RawResponse,
        attempt: u32,
        attempts_left: bool,
        refreshed_token: bool,
    ) -> Next {
        let policy = &self.shared.settings.retry;
        let request = call.describe();
        let message = error_message(&response.body);
        let status = response.status;

        if status == StatusCode::UNAUTHORIZED {
            if self.can_refresh_token(call.auth) && !refreshed_token {
                return Next::RefreshToken;
            }
            return Next::Fail(GitHubError::Unauthorized { request, message });
        }
        if let Some(wait) = rate_limit_wait(status, &response.headers, &message, epoch_seconds()) {
            if wait > policy.max_rate_limit_wait || !attempts_left {
                return Next::Fail(GitHubError::RateLimited {
                    request,
                    retry_after: Some(wait),
                });
            }
            return Next::Retry {
                wait,
                reason: format!("rate limited ({status}): {message}"),
            };
        }
        if status.is_server_error() {
            if !call.idempotent || !attempts_left {
                return Next::Fail(GitHubError::Server {
                    request,
                    status: status.as_u16(),
                });
            }
            // A 503 may carry `retry-after`; wait at least that long.
            let backoff = policy.backoff(attempt);
            let wait = retry_after(&response.headers).filter(|asked| *asked <= policy.max_rate_limit_wait);
            let wait = wait.map_or(backoff, |asked| asked.max(backoff));
            return Next::Retry {
                wait,
                reason: format!("server error {status}"),
            };
        }
        Next::Fail(match status {
            StatusCode::FORBIDDEN => GitHubError::Forbidden { request, message },
            StatusCode::NOT_FOUND => GitHubError::NotFound { request },
            StatusCode::UNPROCESSABLE_ENTITY => GitHubError::Validation { request, message },
            _ => GitHubError::UnexpectedResponse {
                request,
                status: status.as_u16(),
                message,
            },
        })
    }

    /// Decides what follows an attempt that got no response.
    fn judge_transport(&self, call: &Call, source: TransportError, attempt: u32, attempts_left: bool) -> Next {
        let policy = &self.shared.settings.retry;
        if call.idempotent && attempts_left {
            return Next::Retry {
                wait: policy.backoff(attempt),
                reason: source.to_string(),
            };
        }
        Next::Fail(GitHubError::Transport {
            request: call.describe(),
            source,
        })
    }

    /// Sends one attempt and reads the whole body within the request timeout.
    async fn exchange(&self, request: http::Request<OctoBody>) -> Result<RawResponse, TransportError> {
        let timeout = self.shared.settings.request_timeout;
        let exchange = async {
            let response = self.shared.http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.shared.http.body_to_string(response).await?;
            Ok::<_, octocrab::Error>(RawResponse { status, headers, body })
        };
        let calls = &self.shared.calls;
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(response)) => {
                calls.record_response(response.status.as_u16(), &response.headers);
                Ok(response)
            }
            Ok(Err(error)) => {
                calls.record_failure("transport_error");
                Err(TransportError::Http(error))
            }
            Err(_) => {
                calls.record_failure("timeout");
                Err(TransportError::Timeout(timeout))
            }
        }
    }

    fn build_request(&self, call: &Call, authorization: &SecretString) -> Result<http::Request<OctoBody>, GitHubError> {
        let invalid =
            |error: &dyn std::fmt::Display| GitHubError::InvalidInput(format!("{}: {error}", call.describe()));
        let mut auth_value = HeaderValue::from_str(authorization.expose_secret()).map_err(|_| {
            GitHubError::InvalidInput("the GitHub token contains characters not allowed in a header".into())
        })?;
        auth_value.set_sensitive(true);

        let builder = http::Request::builder()
            .method(call.method.clone())
            .uri(self.target_uri(&call.target)?)
            .header(ACCEPT, MEDIA_TYPE)
            .header("x-github-api-version", API_VERSION)
            .header(USER_AGENT, self.shared.settings.user_agent.as_str())
            .header(AUTHORIZATION, auth_value);
        let request = match &call.body {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(OctoBody::from(body.to_string())),
            None => builder.body(OctoBody::empty()),
        };
        request.map_err(|error| invalid(&error))
    }

    /// Resolves `target`; an absolute URL must point at the API host, so
    /// that a `Link` header can never send the token elsewhere.
    fn target_uri(&self, target: &str) -> Result<Uri, GitHubError> {
        let uri: Uri = target
            .parse()
            .map_err(|error| GitHubError::InvalidInput(format!("invalid request URL {target:?}: {error}")))?;
        let base = &self.shared.base_url;
        if uri.authority().is_some() && (uri.authority() != base.authority() || uri.scheme() != base.scheme()) {
            return Err(GitHubError::InvalidInput(format!(
                "refusing to send a request to {target:?}: it is not on the API host {base}"
            )));
        }
        Ok(uri)
    }
}

/// Checks that `repo` is `owner/name` in the characters GitHub allows
/// (ASCII letters, digits, `-`, `_` and `.`), so it can go into a path as is.
pub(crate) fn repo_path(repo: &str) -> Result<&str, GitHubError> {
    let valid_part = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(repo),
        _ => Err(GitHubError::InvalidInput(format!(
            "invalid repository {repo:?}: expected OWNER/NAME, such as django/django"
        ))),
    }
}

/// Returns GitHub's error `message`, with the messages of any `errors`
/// entries, or the start of a non-JSON body (a proxy's HTML page).
fn error_message(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(MAX_MESSAGE_CHARS).collect();
    };
    let mut message = json.get("message").and_then(Value::as_str).unwrap_or("").to_owned();
    let details: Vec<&str> = json
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error.get("message").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    message.chars().take(MAX_MESSAGE_CHARS).collect()
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_path_rejects_what_would_change_the_url() {
        let bad = [
            "", "django", "/django", "django/", "a/b/c", "a/..", "a/b?x=1", "a/b#c", "a b/c", "a/%2e",
        ];

        for repo in bad {
            assert!(repo_path(repo).is_err(), "accepted {repo:?}");
        }
        assert_eq!(repo_path("django/django.github.io").unwrap(), "django/django.github.io");
    }

    #[test]
    fn error_message_joins_validation_details() {
        let body = r#"{"message":"Validation Failed","errors":[{"field":"data","message":"Body is too long"}]}"#;

        let message = error_message(body);

        assert_eq!(message, "Validation Failed: Body is too long");
    }

    #[test]
    fn error_message_keeps_start_of_html() {
        let body = format!("<html>{}</html>", "x".repeat(1000));

        let message = error_message(&body);

        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.starts_with("<html>"));
    }
}
