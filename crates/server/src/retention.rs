//! Data retention: the pruning step that `pitot serve` runs every hour
//! (and once shortly after start) and `pitot prune` runs once.
//!
//! What each `[retention]` key deletes is described on the store's
//! functions (`pitot_store::retention`). This module turns the configured
//! days into cutoffs, loops over batches until none is full, logs and
//! counts what went.

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use pitot_store::retention;
use sqlx::PgPool;

use crate::config::RetentionConfig;
use crate::state::AppState;

/// The time between two pruning rounds of `pitot serve`.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// The wait before the first round, so a restart does not add pruning to
/// the work of starting up.
pub const FIRST_PRUNE_DELAY: Duration = Duration::from_secs(60);

/// The rows one statement deletes or changes at most, so that no statement
/// holds its row locks for long.
pub const PRUNE_BATCH: i64 = 1_000;

/// The runs whose samples one round clears before it looks for the next
/// runs.
const RUNS_PER_PAGE: i64 = 100;

/// The rows a pruning round removed or changed, or would, for a dry run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// Agent reports deleted (`job_reports`).
    pub reports: u64,
    /// asv results files of those reports deleted (`job_report_files`).
    pub report_files: u64,
    /// Webhook deliveries deleted.
    pub deliveries: u64,
    /// Results whose raw samples were set to NULL.
    pub samples: u64,
}

impl PruneCounts {
    /// Returns each count with the name `/metrics` and the logs use for it.
    pub fn by_kind(&self) -> [(&'static str, u64); 4] {
        [
            ("reports", self.reports),
            ("report_files", self.report_files),
            ("deliveries", self.deliveries),
            ("samples", self.samples),
        ]
    }
}

/// Deletes what `retention` no longer keeps, `batch` rows per statement,
/// each statement in its own transaction, and returns the totals.
pub async fn prune(
    pool: &PgPool,
    retention: &RetentionConfig,
    batch: i64,
) -> anyhow::Result<PruneCounts> {
    let now = Utc::now();
    let mut counts = PruneCounts::default();
    if let Some(period) = retention.reports() {
        loop {
            let deleted = retention::delete_old_reports(pool, now - period, batch)
                .await
                .context("failed to delete old job reports")?;
            counts.reports += deleted.reports;
            counts.report_files += deleted.files;
            if deleted.reports < batch as u64 {
                break;
            }
        }
    }
    if let Some(period) = retention.deliveries() {
        loop {
            let deleted = retention::delete_old_deliveries(pool, now - period, batch)
                .await
                .context("failed to delete old webhook deliveries")?;
            counts.deliveries += deleted;
            if deleted < batch as u64 {
                break;
            }
        }
    }
    if let Some(period) = retention.samples() {
        counts.samples = clear_old_samples(pool, now - period, batch).await?;
    }
    Ok(counts)
}

/// Clears the samples of every run stored before `cutoff`, a page of runs
/// at a time.
async fn clear_old_samples(
    pool: &PgPool,
    cutoff: chrono::DateTime<Utc>,
    batch: i64,
) -> anyhow::Result<u64> {
    let mut cleared = 0;
    let mut after = 0;
    loop {
        let run_ids = retention::old_run_ids(pool, cutoff, after, RUNS_PER_PAGE)
            .await
            .context("failed to list old runs")?;
        let Some(&last) = run_ids.last() else {
            return Ok(cleared);
        };
        loop {
            let changed = retention::clear_samples(pool, &run_ids, batch)
                .await
                .context("failed to clear the samples of old runs")?;
            cleared += changed;
            if changed < batch as u64 {
                break;
            }
        }
        after = last;
    }
}

/// Counts what [`prune`] would delete now, without changing anything.
pub async fn count_prunable(
    pool: &PgPool,
    retention: &RetentionConfig,
) -> anyhow::Result<PruneCounts> {
    let now = Utc::now();
    let mut counts = PruneCounts::default();
    if let Some(period) = retention.reports() {
        let reports = retention::count_old_reports(pool, now - period)
            .await
            .context("failed to count old job reports")?;
        counts.reports = reports.reports;
        counts.report_files = reports.files;
    }
    if let Some(period) = retention.deliveries() {
        counts.deliveries = retention::count_old_deliveries(pool, now - period)
            .await
            .context("failed to count old webhook deliveries")?;
    }
    if let Some(period) = retention.samples() {
        counts.samples = retention::count_old_samples(pool, now - period)
            .await
            .context("failed to count the samples of old runs")?;
    }
    Ok(counts)
}

/// Prunes after [`FIRST_PRUNE_DELAY`] and then every [`PRUNE_INTERVAL`]
/// until the state's shutdown token is cancelled. A failed round is logged
/// and tried again at the next interval.
pub async fn run_retention(state: AppState) {
    let start = tokio::time::Instant::now() + FIRST_PRUNE_DELAY;
    let mut interval = tokio::time::interval_at(start, PRUNE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        prune_and_record(&state).await;
    }
}

/// Runs one pruning round, counts its rows in `/metrics` and logs them.
pub async fn prune_and_record(state: &AppState) -> Option<PruneCounts> {
    match prune(&state.pool, &state.config.retention, PRUNE_BATCH).await {
        Ok(counts) => {
            state.metrics.count_pruned(&counts);
            tracing::info!(
                reports = counts.reports,
                report_files = counts.report_files,
                deliveries = counts.deliveries,
                samples = counts.samples,
                "retention pruning finished"
            );
            Some(counts)
        }
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "retention pruning failed; trying again at the next interval"
            );
            None
        }
    }
}

/// Returns the 410 message for a job whose report retention deleted.
/// `retention` is the current setting, which may differ from the one in
/// force when the report went.
pub fn deleted_report_message(
    job_id: i64,
    deleted_at: chrono::DateTime<Utc>,
    retention: &RetentionConfig,
) -> String {
    let date = deleted_at.format("%Y-%m-%d");
    match retention.reports_days {
        0 => format!(
            "the log and results files of job {job_id} were deleted on {date} by the retention setting retention.reports_days, which now keeps reports forever"
        ),
        days => format!(
            "the log and results files of job {job_id} were deleted on {date}, after {days} days, by the retention setting retention.reports_days = {days}"
        ),
    }
}

/// Returns the 410 error for a job without a report when retention deleted
/// its report, or `None` when it never had one.
pub(crate) async fn deleted_report_error(
    state: &AppState,
    job_id: i64,
) -> Result<Option<crate::AppError>, crate::AppError> {
    let deleted_at = retention::reports_deleted_at(&state.pool, job_id)
        .await
        .context("failed to check whether the job's report was deleted")?;
    Ok(deleted_at.map(|deleted_at| {
        crate::AppError::Gone(deleted_report_message(
            job_id,
            deleted_at,
            &state.config.retention,
        ))
    }))
}
