//! `pitot api-token` issues and revokes the tokens that authorize writes
//! through the JSON API: quarantines, triage, reruns, calibrations.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use pitot_server::api_tokens::ApiScope;
use secrecy::ExposeSecret;

use crate::database::{Database, DatabaseArgs};

#[derive(clap::Args, Debug)]
pub struct ApiTokenArgs {
    #[command(subcommand)]
    pub action: ApiTokenAction,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum ApiTokenAction {
    /// Create a token for NAME and print it; it is shown only once.
    Create {
        /// The token holder's name, such as a GitHub login; recorded with each
        /// change it makes.
        name: String,
        /// The scopes the token grants: quarantine, triage, rerun or calibrate.
        /// Repeat the flag for several scopes.
        #[arg(long = "scope", required = true)]
        scopes: Vec<ApiScope>,
    },
    /// Revoke NAME's token; it authorizes nothing from its next request on.
    Revoke { name: String },
}

/// Runs `pitot api-token`.
pub fn run(args: ApiTokenArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let database = Database::open(&args.database).await?;
        let result = match &args.action {
            ApiTokenAction::Create { name, scopes } => {
                pitot_server::api_tokens::create_api_token(database.pool(), name, scopes)
                    .await
                    .map(|token| println!("{}", token.expose_secret()))
                    .map_err(anyhow::Error::from)
            }
            ApiTokenAction::Revoke { name } => {
                match pitot_store::api_tokens::revoke_api_token(database.pool(), name).await {
                    Ok(true) => {
                        eprintln!("revoked the API token {name:?}");
                        Ok(())
                    }
                    Ok(false) => Err(anyhow::anyhow!(
                        "no active API token named {name:?}: nothing to revoke"
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
