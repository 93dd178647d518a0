//! Starting the whole service in one process: the HTTP server with its
//! workers and, unless turned off, one benchmark agent, as `pitot serve`,
//! `pitot demo` and the end-to-end tests run it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use pitot_github::{ClientSettings, Credentials, GitHubClient, SecretString};
use pitot_runner::config::AgentConfig;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent_tokens::create_agent_token;
use crate::config::Config;
use crate::state::AppState;

/// The name of the agent `pitot serve` runs in its own process.
pub const IN_PROCESS_AGENT: &str = "in-process";

/// The folders of the service: the in-process agent's work folder
/// defaults to `agent` inside `home`.
#[derive(Debug, Clone)]
pub struct ServiceDirs {
    pub home: PathBuf,
}

/// A running service; [`Service::stop`] shuts it down in order.
pub struct Service {
    /// The address the server listens on.
    pub address: SocketAddr,
    pub state: AppState,
    server: JoinHandle<std::io::Result<()>>,
    agent: Option<(CancellationToken, JoinHandle<anyhow::Result<()>>)>,
    stop_server: CancellationToken,
}

/// Builds the GitHub client the configuration specifies: a GitHub App when
/// `app_id` and a private key are set, else a token, else none.
pub fn github_client(config: &Config) -> anyhow::Result<Option<GitHubClient>> {
    github_client_with(config, ClientSettings::default())
}

/// Like [`github_client`], with `settings` other than the API URL, which
/// comes from the configuration.
pub fn github_client_with(
    config: &Config,
    settings: ClientSettings,
) -> anyhow::Result<Option<GitHubClient>> {
    let github = &config.github;
    let credentials = match (github.app_id, &github.private_key, &github.private_key_path) {
        (Some(app_id), Some(key), _) => Credentials::App {
            app_id,
            private_key_pem: key.clone(),
        },
        (Some(app_id), None, Some(path)) => {
            let pem = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "failed to read the GitHub App private key {}: set github.private_key_path to the .pem file downloaded from the App's settings",
                    path.display()
                )
            })?;
            Credentials::App {
                app_id,
                private_key_pem: SecretString::from(pem),
            }
        }
        (Some(app_id), None, None) => anyhow::bail!(
            "github.app_id is {app_id} but no private key is set: set github.private_key_path (PITOT_GITHUB_PRIVATE_KEY_PATH) or PITOT_GITHUB_PRIVATE_KEY"
        ),
        (None, _, _) => match &github.token {
            Some(token) => Credentials::Token(token.clone()),
            None => return Ok(None),
        },
    };
    let settings = ClientSettings {
        base_url: github.api_url.clone(),
        ..settings
    };
    let client = GitHubClient::new(settings, credentials).with_context(|| {
        match (&github.app_id, &github.private_key_path, &github.private_key) {
            (Some(_), Some(path), None) => format!(
                "invalid GitHub settings (the App key is github.private_key_path {})",
                path.display()
            ),
            _ => "invalid GitHub settings".to_owned(),
        }
    })?;
    Ok(Some(client))
}

impl Service {
    /// Starts the service on `listener` with a migrated `pool`. The
    /// in-process agent, when configured, gets a fresh token under the name
    /// [`IN_PROCESS_AGENT`] (replacing the previous run's) and talks to the
    /// server over `listener`'s loopback address.
    pub async fn start(
        pool: PgPool,
        config: Config,
        listener: TcpListener,
        dirs: &ServiceDirs,
    ) -> anyhow::Result<Service> {
        let address = listener
            .local_addr()
            .context("failed to read the server's listening address")?;
        let github = github_client(&config)?;
        let mut state = AppState::new(pool, config);
        if let Some(github) = github {
            state = state.with_github(github);
        }

        let stop_server = CancellationToken::new();
        let server = tokio::spawn(crate::serve::serve(
            listener,
            state.clone(),
            stop_server.clone().cancelled_owned(),
        ));

        let agent = if state.config.jobs.in_process_agent {
            if state.github.is_some() && !is_loopback_url(&state.config.github.api_url) {
                tracing::warn!(
                    api_url = %state.config.github.api_url,
                    "the in-process agent runs pull-request code as pitot's own user, which can read pitot's configuration and secrets and reach its database; run `pitot agent` as another user on a benchmark machine and set jobs.in_process_agent = false"
                );
            }
            Some(start_agent(&state, address, dirs).await?)
        } else {
            None
        };
        Ok(Service {
            address,
            state,
            server,
            agent,
            stop_server,
        })
    }

    /// Returns the server's base URL, `http://ADDRESS`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the agent (a running asv is stopped), then the server: requests
    /// in flight finish and the workers stop.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some((shutdown, task)) = self.agent {
            shutdown.cancel();
            match task.await {
                Ok(result) => result.context("the in-process agent failed")?,
                Err(error) => tracing::error!(%error, "the in-process agent panicked"),
            }
        }
        self.stop_server.cancel();
        self.server
            .await
            .context("the server task panicked")?
            .context("the server failed")?;
        Ok(())
    }
}

async fn start_agent(
    state: &AppState,
    address: SocketAddr,
    dirs: &ServiceDirs,
) -> anyhow::Result<(CancellationToken, JoinHandle<anyhow::Result<()>>)> {
    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start a transaction")?;
    pitot_store::agent_tokens::revoke_agent_token(&mut *tx, IN_PROCESS_AGENT).await?;
    let token = create_agent_token(&mut *tx, IN_PROCESS_AGENT)
        .await
        .context("failed to create the in-process agent's token")?;
    tx.commit()
        .await
        .context("failed to store the in-process agent's token")?;

    let jobs = &state.config.jobs;
    let work_dir = jobs
        .agent_work_dir
        .clone()
        .unwrap_or_else(|| dirs.home.join("agent"));
    let mut config = AgentConfig::new(format!("http://{address}"), token, work_dir);
    config.name = IN_PROCESS_AGENT.to_owned();
    config.machine = Some(jobs.machine.clone());
    config.url_rewrites = jobs.url_rewrites.clone();
    config.asv_program = jobs.asv_program.clone();

    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
    tracing::info!(machine = %jobs.machine, "in-process agent started");
    Ok((shutdown, task))
}

/// Returns whether `url` names this machine (`localhost` or a loopback
/// address), as a local GitHub stand-in does.
fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_recognized() {
        for url in ["http://127.0.0.1:9000/api", "http://localhost:1", "http://[::1]:80/"] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://api.github.com", "https://ghe.example.com/api/v3", "not a url"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
