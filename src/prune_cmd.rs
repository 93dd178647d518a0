//! `pitot prune`: one round of data retention, as `pitot serve` runs every
//! hour, for operators and cron. `--dry-run` prints what would go and
//! changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pitot_server::config::Config;
use pitot_server::retention::{self, PruneCounts, PRUNE_BATCH};

use crate::database::{Database, DatabaseArgs};
use crate::serve_cmd::database_args;

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// The TOML configuration file whose `[retention]` section applies, as
    /// `pitot serve --config` reads it.
    #[arg(long, env = "PITOT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print how many rows would be deleted or changed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot prune`.
pub fn run(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args.config.as_deref())?;
    let database = database_args(&args.database, &config);
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let database = Database::open(&database).await?;
        let retention = &config.retention;
        let result = if args.dry_run {
            retention::count_prunable(database.pool(), retention).await
        } else {
            retention::prune(database.pool(), retention, PRUNE_BATCH).await
        };
        database.close().await;
        print_counts(&result?, &config, args.dry_run);
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per kind of data, with the setting that governs it.
fn print_counts(counts: &PruneCounts, config: &Config, dry_run: bool) {
    let retention = &config.retention;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let lines = [
        (
            "reports_days",
            retention.reports_days,
            format!(
                "{verb} {} job reports with {} results files",
                counts.reports, counts.report_files
            ),
        ),
        (
            "deliveries_days",
            retention.deliveries_days,
            format!("{verb} {} webhook deliveries", counts.deliveries),
        ),
        (
            "samples_days",
            retention.samples_days,
            format!(
                "{} the samples of {} results",
                if dry_run { "would clear" } else { "cleared" },
                counts.samples
            ),
        ),
    ];
    for (key, days, line) in lines {
        match days {
            0 => println!("retention.{key} = 0: kept forever"),
            days => println!("retention.{key} = {days}: {line}"),
        }
    }
}
