//! The test application and helpers shared by the server's integration tests.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use pitot_server::config::Config;
use pitot_server::{router, AppState};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt as _;

/// The webhook secret of every test application.
pub const SECRET: &str = "test-webhook-secret";
/// The trigger label of the default configuration.
pub const LABEL: &str = "run-benchmarks";
/// The head commit of the pull request in the octokit payloads.
pub const FIXTURE_HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
/// A later head commit, for pushes.
pub const NEW_HEAD: &str = "1111111111111111111111111111111111111111";

/// The router and state of one test, on the test's own database.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub pool: PgPool,
}

/// A response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "response body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Returns the `error` message of an error response.
    #[track_caller]
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl TestApp {
    /// Creates an application with the default configuration, the test
    /// secret, a one-second claim wait and no confirmation runs.
    pub fn new(pool: PgPool) -> TestApp {
        TestApp::with_config(pool, |_| {})
    }

    /// Like [`TestApp::new`], after `change` has adjusted the configuration.
    pub fn with_config(pool: PgPool, change: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::default();
        config.github.webhook_secret = Some(SecretString::from(SECRET));
        config.jobs.claim_wait = Duration::from_secs(1);
        // No agent runs here to claim a confirmation job, so a flagged
        // regression would delay its comment forever. The top-level tests
        // cover confirmation.
        config.confirm.enabled = false;
        change(&mut config);
        let state = AppState::new(pool.clone(), config);
        TestApp {
            router: router(state.clone()),
            state,
            pool,
        }
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("readable body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// Sends `body` as a JSON delivery of `event`, signed with the test secret.
    pub async fn webhook(&self, event: &str, delivery_id: &str, body: &[u8]) -> TestResponse {
        let request = webhook_request(event, delivery_id, body)
            .header(
                "x-hub-signature-256",
                pitot_github::sign(SECRET.as_bytes(), body),
            )
            .body(Body::from(body.to_vec()))
            .expect("valid request");
        self.send(request).await
    }

    /// Sends `payload` as a signed JSON delivery and asserts it was accepted.
    pub async fn deliver(&self, event: &str, delivery_id: &str, payload: &Value) -> Value {
        let response = self
            .webhook(
                event,
                delivery_id,
                &serde_json::to_vec(payload).expect("serializable"),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::ACCEPTED,
            "delivery {delivery_id}: {}",
            String::from_utf8_lossy(&response.body)
        );
        response.json()
    }

    /// Posts `body` as JSON to `path` with `token` as the bearer token.
    pub async fn post_agent(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        let mut request = Request::post(path).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Body::from(serde_json::to_vec(body).expect("serializable")))
            .expect("valid request");
        self.send(request).await
    }

    /// Creates an agent token named `name` and returns it in clear.
    pub async fn agent_token(&self, name: &str) -> String {
        let token = pitot_server::agent_tokens::create_agent_token(&self.pool, name)
            .await
            .expect("token created");
        token.expose_secret().to_string()
    }

    /// Claims the next job as agent `agent` on machine `machine`, with the
    /// agent's `token`, and returns the claimed job.
    pub async fn claim(&self, token: &str, agent: &str, machine: &str) -> Value {
        let body = serde_json::json!({ "agent": agent, "machine": machine });
        let claimed = self
            .post_agent(pitot_runner::api::CLAIM_PATH, Some(token), &body)
            .await;
        assert_eq!(
            claimed.status,
            StatusCode::OK,
            "claim: {}",
            String::from_utf8_lossy(&claimed.body)
        );
        claimed.json()
    }

    /// Creates an API token named `name` granting `scopes` and returns it
    /// in clear.
    pub async fn api_token(
        &self,
        name: &str,
        scopes: &[pitot_server::api_tokens::ApiScope],
    ) -> String {
        let token = pitot_server::api_tokens::create_api_token(&self.pool, name, scopes)
            .await
            .expect("token created");
        token.expose_secret().to_string()
    }

    /// Sends a JSON API request: `method` to `path` with `token` as the
    /// bearer token and `body`, if any, as JSON.
    pub async fn send_api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(serde_json::to_vec(body).expect("serializable"))
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("valid request")).await
    }

    /// Waits until the queued-job listener is listening on this database, so
    /// a notification sent next is not missed.
    pub async fn wait_for_listener(&self) {
        for _ in 0..100 {
            let listening: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'",
            )
            .fetch_one(&self.pool)
            .await
            .expect("pg_stat_activity is readable");
            if listening > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the queued-job listener did not start within 5 seconds");
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }

    /// Returns the ids and states of all jobs, ordered by id.
    pub async fn jobs(&self) -> Vec<(i64, String)> {
        sqlx::query_as("SELECT id, state FROM jobs ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("jobs query")
    }

    /// Returns the outcome and job id recorded for a delivery.
    pub async fn delivery(&self, delivery_id: &str) -> (String, Option<i64>) {
        sqlx::query_as("SELECT outcome, job_id FROM deliveries WHERE delivery_id = $1")
            .bind(delivery_id)
            .fetch_one(&self.pool)
            .await
            .expect("the delivery was recorded")
    }
}

/// Returns an application with the default configuration that writes to
/// `stub` as the test GitHub App.
pub fn app_with_github(pool: PgPool, stub: &pitot_github_stub::GitHubStub) -> TestApp {
    app_with_github_config(pool, stub, |_| {})
}

/// Like [`app_with_github`], after `change` has adjusted the configuration.
pub fn app_with_github_config(
    pool: PgPool,
    stub: &pitot_github_stub::GitHubStub,
    change: impl FnOnce(&mut Config),
) -> TestApp {
    let mut app = TestApp::with_config(pool, change);
    let settings = pitot_github::ClientSettings {
        base_url: stub.url().to_owned(),
        ..pitot_github::ClientSettings::default()
    };
    let credentials = pitot_github::Credentials::App {
        app_id: pitot_github_stub::TEST_APP_ID,
        private_key_pem: SecretString::from(pitot_github_stub::TEST_APP_PRIVATE_KEY),
    };
    let client = pitot_github::GitHubClient::new(settings, credentials).expect("client builds");
    app.state = app.state.clone().with_github(client);
    app.router = pitot_server::router(app.state.clone());
    app
}

/// Starts a webhook request with GitHub's headers but no signature or body.
pub fn webhook_request(
    event: &str,
    delivery_id: &str,
    body: &[u8],
) -> axum::http::request::Builder {
    Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .header("x-github-event", event)
        .header("x-github-delivery", delivery_id)
        .header("user-agent", "GitHub-Hookshot/test")
}

/// Reads a webhook payload from `tests/fixtures/webhooks`.
#[track_caller]
pub fn fixture(relative: &str) -> Value {
    let path = workspace_path("tests/fixtures/webhooks").join(relative);
    let text = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_json::from_slice(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// Reads the octokit `pull_request` payload for `action` and sets its label
/// to the trigger label (for `labeled` and `unlabeled`).
#[track_caller]
pub fn pull_request(action: &str) -> Value {
    let mut payload = fixture(&format!("pull_request/{action}.payload.json"));
    if payload.get("label").is_some() {
        payload["label"]["name"] = LABEL.into();
    }
    payload
}

/// `payload` with another head commit.
pub fn with_head(mut payload: Value, head_sha: &str) -> Value {
    payload["pull_request"]["head"]["sha"] = head_sha.into();
    payload
}

pub fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
