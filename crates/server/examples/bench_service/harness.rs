//! Starting and stopping the server under test on its own runtime.

use anyhow::Context as _;
use pitot_github_stub::{GitHubStub, TEST_APP_ID, TEST_APP_PRIVATE_KEY};
use pitot_server::config::Config;
use pitot_server::service::{Service, ServiceDirs};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::runtime::Handle;

use crate::database::{open_server_pool, PoolSettings, ScratchDatabase};
use crate::WEBHOOK_SECRET;

/// Returns the configuration of the server under test: the bench's webhook
/// secret, no in-process agent, and GitHub App credentials pointing at
/// `github` when it is given (otherwise comments are only stored).
pub fn service_config(github: Option<&GitHubStub>) -> Config {
    let mut config = Config::default();
    config.github.webhook_secret = Some(SecretString::from(WEBHOOK_SECRET));
    config.jobs.in_process_agent = false;
    // The measured agents claim only the jobs the bench queued, so a
    // confirmation of a flagged regression would wait for an agent forever.
    config.confirm.enabled = false;
    config.server.public_url = "http://pitot.test".to_owned();
    if let Some(stub) = github {
        config.github.api_url = stub.url().to_owned();
        config.github.app_id = Some(TEST_APP_ID);
        config.github.private_key = Some(SecretString::from(TEST_APP_PRIVATE_KEY));
    }
    config
}

/// Starts the service on 127.0.0.1 with a pool made with `pool`. The pool,
/// the server and its workers all live on the `server` runtime.
pub async fn start_service(
    server: &Handle,
    scratch: &ScratchDatabase,
    pool: PoolSettings,
    config: Config,
) -> anyhow::Result<Service> {
    let options = scratch.options.clone();
    server
        .spawn(async move {
            let pool = open_server_pool(options, pool).await?;
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .context("failed to bind 127.0.0.1:0 for the server")?;
            let dirs = ServiceDirs {
                home: std::env::temp_dir().join("pitot-bench-service"),
            };
            Service::start(pool, config, listener, &dirs).await
        })
        .await
        .context("the server's start-up task panicked")?
}

/// Stops the service on the `server` runtime and closes its pool.
pub async fn stop_service(server: &Handle, service: Service) -> anyhow::Result<()> {
    server
        .spawn(async move {
            let pool = service.state.pool.clone();
            let stopped = service.stop().await;
            pool.close().await;
            stopped
        })
        .await
        .context("the server's stop task panicked")?
}
