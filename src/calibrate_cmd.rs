//! `pitot calibrate`: queues an A/A calibration job, which benchmarks one
//! commit against itself on one machine so that pitot learns the noise of
//! each benchmark there. It prints the job's id; an agent runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pitot_server::calibrations::{queue_calibration, CalibrationRequest, DEFAULT_PASSES};
use pitot_server::config::Config;
use pitot_store::RepoName;

use crate::database::{Database, DatabaseArgs};
use crate::serve_cmd::database_args;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// The repository, `owner/name`. It must have a reported job, which
    /// gives the clone URL.
    #[arg(long)]
    pub repo: String,
    /// The full commit hash to benchmark. Default: the newest benchmarked
    /// commit of the default branch.
    #[arg(long)]
    pub sha: Option<String>,
    /// The asv machine name of the agent that must run the job. Default:
    /// any agent.
    #[arg(long)]
    pub machine: Option<String>,
    /// How many times asv runs on the commit, 2 to 10.
    #[arg(long, default_value_t = DEFAULT_PASSES)]
    pub passes: u32,
    /// The TOML configuration file of `pitot serve`, for the database and
    /// the job's attempt limit (`jobs.max_attempts`).
    #[arg(long, env = "PITOT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot calibrate`.
pub fn run(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let repository: RepoName = args.repo.parse().map_err(|error| {
        anyhow::anyhow!("invalid --repo {:?}: {error}; use owner/name", args.repo)
    })?;
    let config = Config::load(args.config.as_deref())?;
    let database = database_args(&args.database, &config);
    let request = CalibrationRequest {
        repository,
        sha: args.sha,
        machine: args.machine,
        passes: args.passes,
    };
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    let queued = runtime.block_on(async move {
        let database = Database::open(&database).await?;
        let result = async {
            let mut tx = database
                .pool()
                .begin()
                .await
                .context("failed to start the transaction")?;
            let queued = queue_calibration(&mut tx, &request, config.jobs.max_attempts).await?;
            tx.commit()
                .await
                .context("failed to commit the calibration job")?;
            anyhow::Ok(queued)
        }
        .await;
        database.close().await;
        result
    })?;
    if queued.created {
        println!(
            "queued calibration job {} for commit {}",
            queued.job_id, queued.sha
        );
    } else {
        println!(
            "calibration job {} for commit {} is already queued or running",
            queued.job_id, queued.sha
        );
    }
    Ok(ExitCode::SUCCESS)
}
