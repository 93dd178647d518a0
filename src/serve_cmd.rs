//! `pitot serve`: the webhook receiver, the agent API, the reporter and, by
//! default, one benchmark agent, until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pitot_server::config::Config;
use pitot_server::service::{Service, ServiceDirs};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::database::{default_pitot_home, Database, DatabaseArgs};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The TOML configuration file (see docs/configuration.md). Without it
    /// every key takes its default; environment variables override both.
    #[arg(long, env = "PITOT_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.as_deref())?;
    if config.github.webhook_secret.is_none() {
        tracing::warn!(
            "no webhook secret configured (github.webhook_secret or PITOT_WEBHOOK_SECRET): every webhook delivery will be rejected with 401"
        );
    }
    let database = database_args(&args.database, &config);
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let database_handle = Database::open(&database).await?;
        let result = async {
            let home = pitot_home(&database)?;
            let address = config.server.listen;
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}: set server.listen (PITOT_LISTEN) to a free address"))?;
            let service = Service::start(database_handle.pool().clone(), config, listener, &ServiceDirs { home }).await?;
            eprintln!("pitot is listening on {}", service.url());
            shutdown_signal().await;
            eprintln!("shutting down");
            service.stop().await
        }
        .await;
        database_handle.close().await;
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Merges the database options: the command line and environment first,
/// then the configuration file.
pub fn database_args(args: &DatabaseArgs, config: &Config) -> DatabaseArgs {
    let mut args = args.clone();
    if args.database_url.is_none() {
        args.database_url = config
            .database
            .url
            .as_ref()
            .map(|url| url.expose_secret().to_owned());
    }
    if args.pitot_home.is_none() {
        args.pitot_home = config.database.pitot_home.clone();
    }
    args
}

/// Returns the folder for pitot's files: `--pitot-home`, else the default.
pub fn pitot_home(args: &DatabaseArgs) -> anyhow::Result<PathBuf> {
    match &args.pitot_home {
        Some(home) => Ok(home.clone()),
        None => default_pitot_home(),
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
