//! Starts pitot's service in-process against the GitHub stand-in, acting as
//! the stand-in's test App.

use pitot_github_stub::{GitHubStub, TEST_APP_ID, TEST_APP_PRIVATE_KEY};
use pitot_server::config::Config;
use pitot_server::service::{Service, ServiceDirs};
use secrecy::SecretString;
use sqlx::PgPool;
use tempfile::TempDir;

/// Returns the default configuration with the webhook secret and the test
/// App's credentials, calling the stand-in instead of GitHub.
pub fn app_config(stub: &GitHubStub, webhook_secret: &str) -> Config {
    let mut config = Config::default();
    config.github.webhook_secret = Some(SecretString::from(webhook_secret));
    config.github.api_url = stub.url().to_owned();
    config.github.app_id = Some(TEST_APP_ID);
    config.github.private_key = Some(SecretString::from(TEST_APP_PRIVATE_KEY));
    // These tests report as a hand-driven agent that would never run the
    // confirmation of a regression. `tests/service_loop.rs` covers
    // confirmation with a real agent.
    config.confirm.enabled = false;
    config
}

/// Starts the service on a free loopback port with a fresh home folder,
/// which lives as long as the returned `TempDir`.
pub async fn start_service(pool: PgPool, config: Config) -> (Service, TempDir) {
    let home = tempfile::tempdir().expect("home folder");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("free port");
    let dirs = ServiceDirs {
        home: home.path().to_owned(),
    };
    let service = Service::start(pool, config, listener, &dirs)
        .await
        .expect("service starts");
    (service, home)
}

/// Posts `payload` to the service's webhook endpoint as GitHub would: JSON,
/// signed with `webhook_secret`, as event `event` with delivery id `delivery`.
pub async fn post_webhook(
    service_url: &str,
    webhook_secret: &str,
    event: &str,
    delivery: &str,
    payload: &serde_json::Value,
) -> reqwest::Response {
    let body = serde_json::to_vec(payload).expect("payload encodes");
    reqwest::Client::new()
        .post(format!("{service_url}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            pitot_github::sign(webhook_secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .expect("server responds")
}
