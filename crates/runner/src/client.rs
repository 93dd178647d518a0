//! The agent's HTTP client for the server's agent API ([`crate::api`]).

use std::time::Duration;

use reqwest::{Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{
    heartbeat_path, report_path, ClaimRequest, ClaimedJob, HeartbeatRequest, HeartbeatResponse,
    ReportRequest, CLAIM_PATH,
};

/// The time limit of a claim. It must exceed the server's long-poll window
/// of about 25 seconds.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(60);
/// The time limit of a heartbeat.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// The time limit of a report, whose body may be megabytes.
const REPORT_TIMEOUT: Duration = Duration::from_secs(300);
/// How much of an error response's body goes into an error message.
const ERROR_BODY_LIMIT: usize = 500;

/// A failed call to the agent API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server responded `401 Unauthorized`.
    #[error("the agent token was rejected: check PITOT_AGENT_TOKEN")]
    Unauthorized,
    /// The server responded `409 Conflict`: the job's lease is gone, and
    /// another agent may be running the job.
    #[error("the lease on job {job_id} was lost: the server may have given the job to another agent")]
    LeaseLost { job_id: i64 },
    /// The server rejected the request with a client error status.
    #[error("the server rejected POST {path} with status {status}: {body}")]
    Rejected {
        path: String,
        status: StatusCode,
        body: String,
    },
    /// The server failed with a 5xx status on every attempt.
    #[error("POST {path} failed with status {status} on all {attempts} attempts")]
    ServerError {
        path: String,
        status: StatusCode,
        attempts: u32,
    },
    /// The server could not be reached on any attempt.
    #[error("the server at {url} could not be reached ({attempts} attempts): {source}")]
    Unreachable {
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    /// The server's response body is not the expected JSON.
    #[error("the server's response to POST {path} is invalid: {source}")]
    InvalidResponse {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// The configured server URL is not an http or https URL.
    #[error("invalid server URL {0:?}: expected http:// or https://")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("building the HTTP client failed: {0}")]
    Build(#[source] reqwest::Error),
}

/// How often and how patiently a request is retried after a connection
/// error or a 5xx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The number of attempts, the first included.
    pub attempts: u32,
    /// The pause after the first failed attempt; it doubles after each one.
    pub first_delay: Duration,
    /// The maximum pause between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts over about 15 seconds.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// Returns the policy for reports: ten attempts over about four minutes, since a
    /// lost report throws away a whole benchmark run.
    pub fn patient() -> Self {
        Self {
            attempts: 10,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }

    fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A client of the agent API of one server, authenticated by the agent's
/// token.
#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    retry: RetryPolicy,
    report_retry: RetryPolicy,
}

impl ServerClient {
    /// Creates a client for the server at `base_url` (such as
    /// `https://pitot.example.org`).
    pub fn new(base_url: &str, token: SecretString) -> Result<Self, ClientError> {
        let base_url = base_url.trim_end_matches('/');
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ClientError::InvalidUrl(base_url.to_string()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("pitot-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self {
            http,
            base_url: base_url.to_string(),
            token,
            retry: RetryPolicy::default(),
            report_retry: RetryPolicy::patient(),
        })
    }

    /// Replaces the retry policies for claims and heartbeats, and for
    /// reports.
    pub fn with_retry(mut self, retry: RetryPolicy, report_retry: RetryPolicy) -> Self {
        self.retry = retry;
        self.report_retry = report_retry;
        self
    }

    /// Asks for a job. Returns `None` when the server had none within its
    /// long-poll window.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<Option<ClaimedJob>, ClientError> {
        let response = self.post(CLAIM_PATH, request, CLAIM_TIMEOUT, self.retry).await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            status if status.is_success() => Ok(Some(parse(CLAIM_PATH, response).await?)),
            status => Err(rejected(CLAIM_PATH, status, response).await),
        }
    }

    /// Renews the lease on a job and returns whether it was cancelled.
    pub async fn heartbeat(
        &self,
        job_id: i64,
        request: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        let path = heartbeat_path(job_id);
        let response = self.post(&path, request, HEARTBEAT_TIMEOUT, self.retry).await?;
        match response.status() {
            StatusCode::CONFLICT => Err(ClientError::LeaseLost { job_id }),
            status if status.is_success() => parse(&path, response).await,
            status => Err(rejected(&path, status, response).await),
        }
    }

    /// Sends the report that ends a job attempt.
    pub async fn report(&self, job_id: i64, request: &ReportRequest) -> Result<(), ClientError> {
        let path = report_path(job_id);
        let response = self.post(&path, request, REPORT_TIMEOUT, self.report_retry).await?;
        match response.status() {
            StatusCode::CONFLICT => Err(ClientError::LeaseLost { job_id }),
            status if status.is_success() => Ok(()),
            status => Err(rejected(&path, status, response).await),
        }
    }

    /// Posts `body` as JSON, retrying connection errors, timeouts and 5xx
    /// responses. Returns any other response, except that `401` becomes
    /// [`ClientError::Unauthorized`].
    async fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Response, ClientError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 1;
        loop {
            let sent = self
                .http
                .post(&url)
                .bearer_auth(self.token.expose_secret())
                .timeout(timeout)
                .json(body)
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                    return Err(ClientError::Unauthorized);
                }
                Ok(response) if !response.status().is_server_error() => return Ok(response),
                Ok(response) => ClientError::ServerError {
                    path: path.to_string(),
                    status: response.status(),
                    attempts: attempt,
                },
                Err(source) if source.is_builder() => return Err(ClientError::Build(source)),
                Err(source) => ClientError::Unreachable {
                    url: url.clone(),
                    attempts: attempt,
                    source,
                },
            };
            if attempt >= retry.attempts {
                return Err(failure);
            }
            let delay = retry.delay_after(attempt);
            tracing::warn!(path, attempt, error = %failure, retry_in = ?delay, "agent API request failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

async fn parse<T: DeserializeOwned>(path: &str, response: Response) -> Result<T, ClientError> {
    response.json().await.map_err(|source| ClientError::InvalidResponse {
        path: path.to_string(),
        source,
    })
}

async fn rejected(path: &str, status: StatusCode, response: Response) -> ClientError {
    let mut body = response.text().await.unwrap_or_default();
    if body.len() > ERROR_BODY_LIMIT {
        let mut end = ERROR_BODY_LIMIT;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push_str("...");
    }
    ClientError::Rejected {
        path: path.to_string(),
        status,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_max() {
        let policy = RetryPolicy::default();

        let delays: Vec<u64> = (1..=5).map(|attempt| policy.delay_after(attempt).as_secs()).collect();

        assert_eq!(delays, [1, 2, 4, 8, 8]);
    }

    #[test]
    fn client_rejects_non_http_url() {
        let created = ServerClient::new("ftp://example.org", SecretString::from("t"));

        assert!(matches!(created, Err(ClientError::InvalidUrl(_))));
    }
}
