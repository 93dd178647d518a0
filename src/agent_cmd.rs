//! `pitot agent` runs benchmark jobs for a server, and `pitot agent-token`
//! issues and revokes the tokens agents authenticate with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use pitot_runner::config::{AgentConfig, UrlRewrite};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::database::{Database, DatabaseArgs};
use crate::serve_cmd::shutdown_signal;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// A TOML file with the agent's settings (keys as in
    /// docs/configuration.md, section "Agent"); flags override it.
    #[arg(long, env = "PITOT_AGENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// The pitot server's base URL, such as https://pitot.example.org.
    #[arg(long, env = "PITOT_SERVER_URL")]
    pub server_url: Option<String>,
    /// The token from `pitot agent-token create NAME` on the server.
    #[arg(long, env = "PITOT_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The folder for checkouts, logs and asv's environments.
    #[arg(long, env = "PITOT_AGENT_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// The agent's name; default: the host name.
    #[arg(long)]
    pub name: Option<String>,
    /// The asv machine name results are recorded under; default: the name.
    #[arg(long)]
    pub machine: Option<String>,
    /// Rewrite clone URLs: PREFIX=REPLACEMENT, for example
    /// https://github.com/=/srv/mirrors/. May be repeated.
    #[arg(long = "url-rewrite")]
    pub url_rewrites: Vec<UrlRewrite>,
}

/// Runs `pitot agent` until SIGTERM or SIGINT.
pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let config = agent_config(args)?;
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let mut agent = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
        tokio::select! {
            result = &mut agent => return result.context("the agent panicked")?,
            () = shutdown_signal() => {}
        }
        // A running asv is stopped; the server re-queues the job when its lease expires.
        shutdown.cancel();
        agent.await.context("the agent panicked")?
    })?;
    Ok(ExitCode::SUCCESS)
}

fn agent_config(args: AgentArgs) -> anyhow::Result<AgentConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("failed to read the agent configuration {}", path.display())
            })?;
            let mut table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("invalid agent configuration {}", path.display()))?;
            // The token may come from the flag or PITOT_AGENT_TOKEN instead of the file.
            if let Some(token) = &args.token {
                table.insert("token".to_owned(), toml::Value::String(token.clone()));
            }
            table
                .try_into::<AgentConfig>()
                .with_context(|| format!("invalid agent configuration {}", path.display()))?
        }
        None => {
            let server_url = args.server_url.clone().context(
                "no server URL: pass --server-url URL (or PITOT_SERVER_URL), or a --config file with server_url",
            )?;
            let token = args.token.clone().context(
                "no agent token: pass --token (or PITOT_AGENT_TOKEN) with a token from `pitot agent-token create NAME` on the server",
            )?;
            let work_dir = args
                .work_dir
                .clone()
                .context("no work folder: pass --work-dir DIR (or PITOT_AGENT_WORK_DIR), a folder for checkouts and asv's environments")?;
            AgentConfig::new(server_url, SecretString::from(token), work_dir)
        }
    };
    if let Some(url) = args.server_url {
        config.server_url = url;
    }
    if let Some(token) = args.token {
        config.token = SecretString::from(token);
    }
    if let Some(work_dir) = args.work_dir {
        config.work_dir = work_dir;
    }
    if let Some(name) = args.name {
        config.name = name;
    }
    if let Some(machine) = args.machine {
        config.machine = Some(machine);
    }
    config.url_rewrites.extend(args.url_rewrites);
    Ok(config)
}

#[derive(clap::Args, Debug)]
pub struct AgentTokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token for agent NAME and print it; it is shown only once.
    Create { name: String },
    /// Revoke agent NAME's token; its agent stops at its next request.
    Revoke { name: String },
}

/// Runs `pitot agent-token`.
pub fn run_token(args: AgentTokenArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let database = Database::open(&args.database).await?;
        let result = match &args.action {
            TokenAction::Create { name } => {
                pitot_server::agent_tokens::create_agent_token(database.pool(), name)
                    .await
                    .map(|token| println!("{}", token.expose_secret()))
                    .map_err(anyhow::Error::from)
            }
            TokenAction::Revoke { name } => {
                match pitot_store::agent_tokens::revoke_agent_token(database.pool(), name).await {
                    Ok(true) => {
                        eprintln!("revoked the token of agent {name:?}");
                        Ok(())
                    }
                    Ok(false) => Err(anyhow::anyhow!(
                        "no active token for agent {name:?}: nothing to revoke"
                    )),
                    Err(error) => Err(error.into()),
                }
            }
        };
        database.close().await;
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>, token: Option<&str>) -> AgentArgs {
        AgentArgs {
            config,
            server_url: None,
            token: token.map(str::to_owned),
            work_dir: None,
            name: Some("bench-1".to_owned()),
            machine: None,
            url_rewrites: Vec::new(),
        }
    }

    #[test]
    fn config_file_takes_token_from_flag() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.toml");
        std::fs::write(
            &path,
            "server_url = \"http://127.0.0.1:8080\"\nwork_dir = \"/tmp/agent\"\n",
        )
        .unwrap();

        let config = agent_config(args(Some(path.clone()), Some("pitot_abc"))).unwrap();
        assert_eq!(config.token.expose_secret(), "pitot_abc");
        assert_eq!(config.name, "bench-1");

        let error = agent_config(args(Some(path), None)).unwrap_err();
        assert!(format!("{error:#}").contains("token"), "{error:#}");
    }
}
