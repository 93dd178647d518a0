//! `pitot detect`: runs change-point detection over every series of a
//! repository and stores what it finds, for history loaded with
//! `pitot import` rather than by history jobs.

use std::process::ExitCode;

use anyhow::Context as _;
use pitot_stats::change_points::ChangePointOptions;

use crate::database::{Database, DatabaseArgs};

#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// The repository as stored: `owner/name`, or `local/NAME` for one
    /// imported from a folder.
    pub repository: String,
    /// The minimum number of results on each side of a change point.
    #[arg(long, default_value_t = ChangePointOptions::default().min_segment)]
    pub min_segment: usize,
    /// The largest Bonferroni-adjusted p-value of a change point.
    #[arg(long, default_value_t = ChangePointOptions::default().max_p_value)]
    pub max_p_value: f64,
    /// The smallest change of the mean, as a fraction (0.05 is 5%).
    #[arg(long, default_value_t = ChangePointOptions::default().min_relative_change)]
    pub min_relative_change: f64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot detect`.
pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    if args.min_segment < 2 {
        anyhow::bail!(
            "invalid --min-segment {}: a segment needs at least 2 results for a variance",
            args.min_segment
        );
    }
    if !(args.max_p_value > 0.0 && args.max_p_value <= 1.0) {
        anyhow::bail!(
            "invalid --max-p-value {}: expected a probability above 0 and at most 1, such as 0.001",
            args.max_p_value
        );
    }
    if args.min_relative_change.is_nan() || args.min_relative_change < 0.0 {
        anyhow::bail!(
            "invalid --min-relative-change {}: expected a fraction of 0 or more, such as 0.05",
            args.min_relative_change
        );
    }
    let options = ChangePointOptions {
        min_segment: args.min_segment,
        max_p_value: args.max_p_value,
        min_relative_change: args.min_relative_change,
    };
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let database = Database::open(&args.database).await?;
        let result = pitot_server::change_points::detect_in_repository(
            database.pool(),
            &args.repository,
            options,
        )
        .await;
        database.close().await;
        let summary = result?;
        println!(
            "{}: {} series, {} change points, {} new",
            args.repository, summary.series, summary.change_points, summary.new
        );
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
