//! Data retention: deleting the raw reports of old finished jobs and old
//! webhook deliveries, and clearing the raw samples of old runs.
//!
//! Results' values, confidence intervals and quartiles are never touched.
//! Each function handles at most `batch` rows per statement and locks them
//! with `FOR UPDATE SKIP LOCKED`: pruning skips rows that another
//! transaction holds instead of waiting for them, and two servers can
//! prune at the same time without deleting a row twice. Callers loop until
//! a batch comes back smaller than `batch`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::StoreError;

/// The rows one batch of report pruning deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletedReports {
    /// Rows of `job_reports`.
    pub reports: u64,
    /// Rows of `job_report_files`, the asv results files of those reports.
    pub files: u64,
}

/// Deletes up to `batch` reports (with their results files) of jobs that
/// finished before `cutoff`, and marks each such job with
/// `reports_deleted_at`. Reports of unfinished jobs are never deleted,
/// because the reporter still needs them. A job that is re-queued while
/// the batch runs is locked by the re-queue and skipped.
pub async fn delete_old_reports(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<DeletedReports, StoreError> {
    let row = sqlx::query!(
        r#"
        WITH doomed AS (
            SELECT job_reports.id, job_reports.job_id
            FROM job_reports JOIN jobs ON jobs.id = job_reports.job_id
            WHERE jobs.finished_at < $1
            ORDER BY job_reports.id
            LIMIT $2
            FOR UPDATE OF jobs, job_reports SKIP LOCKED
        ),
        deleted_files AS (
            DELETE FROM job_report_files USING doomed
            WHERE job_report_files.report_id = doomed.id
            RETURNING 1
        ),
        deleted_reports AS (
            DELETE FROM job_reports USING doomed
            WHERE job_reports.id = doomed.id
            RETURNING job_reports.job_id
        ),
        marked_jobs AS (
            UPDATE jobs SET reports_deleted_at = now()
            WHERE id IN (SELECT job_id FROM deleted_reports)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM deleted_reports) AS "reports!",
               (SELECT count(*) FROM deleted_files) AS "files!",
               (SELECT count(*) FROM marked_jobs) AS "jobs!"
        "#,
        cutoff,
        batch,
    )
    .fetch_one(executor)
    .await?;
    Ok(DeletedReports {
        reports: row.reports as u64,
        files: row.files as u64,
    })
}

/// Counts what [`delete_old_reports`] would delete for `cutoff`, in all
/// batches together.
pub async fn count_old_reports(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
) -> Result<DeletedReports, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT count(DISTINCT job_reports.id) AS "reports!",
               count(job_report_files.report_id) AS "files!"
        FROM job_reports
        JOIN jobs ON jobs.id = job_reports.job_id
        LEFT JOIN job_report_files ON job_report_files.report_id = job_reports.id
        WHERE jobs.finished_at < $1
        "#,
        cutoff,
    )
    .fetch_one(executor)
    .await?;
    Ok(DeletedReports {
        reports: row.reports as u64,
        files: row.files as u64,
    })
}

/// Deletes up to `batch` deliveries received before `cutoff` and returns
/// how many went. A delivery whose job is not finished stays, so the
/// history of a job still in progress is complete, and so does a deferred
/// delivery, which is still to be applied.
pub async fn delete_old_deliveries(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    let result = sqlx::query!(
        r#"
        DELETE FROM deliveries
        WHERE id IN (
            SELECT deliveries.id
            FROM deliveries LEFT JOIN jobs ON jobs.id = deliveries.job_id
            WHERE deliveries.received_at < $1
              AND deliveries.outcome <> 'deferred'
              AND (jobs.id IS NULL OR jobs.finished_at IS NOT NULL)
            ORDER BY deliveries.id
            LIMIT $2
            FOR UPDATE OF deliveries SKIP LOCKED
        )
        "#,
        cutoff,
        batch,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Counts what [`delete_old_deliveries`] would delete for `cutoff`.
pub async fn count_old_deliveries(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let count = sqlx::query_scalar!(
        r#"
        SELECT count(*) AS "count!"
        FROM deliveries LEFT JOIN jobs ON jobs.id = deliveries.job_id
        WHERE deliveries.received_at < $1
          AND deliveries.outcome <> 'deferred'
          AND (jobs.id IS NULL OR jobs.finished_at IS NOT NULL)
        "#,
        cutoff,
    )
    .fetch_one(executor)
    .await?;
    Ok(count as u64)
}

/// Returns the ids of up to `limit` runs stored before `cutoff`, above
/// `after` in id order: the runs whose samples [`clear_samples`] clears
/// next. Paging by id reads each old run once per round, instead of
/// searching `results` for rows that still have samples.
pub async fn old_run_ids(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM runs WHERE ingested_at < $1 AND id > $2 ORDER BY id LIMIT $3",
        cutoff,
        after,
        limit,
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Sets `samples` to NULL on up to `batch` results of the runs `run_ids`
/// and returns how many rows changed. The values, intervals and quartiles
/// of those rows stay.
pub async fn clear_samples(
    executor: impl PgExecutor<'_>,
    run_ids: &[i64],
    batch: i64,
) -> Result<u64, StoreError> {
    let result = sqlx::query!(
        r#"
        UPDATE results SET samples = NULL
        FROM (
            SELECT run_id, benchmark_id, combination
            FROM results
            WHERE run_id = ANY($1) AND samples IS NOT NULL
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ) AS doomed
        WHERE results.run_id = doomed.run_id
          AND results.benchmark_id = doomed.benchmark_id
          AND results.combination = doomed.combination
        "#,
        run_ids,
        batch,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Counts the results of runs stored before `cutoff` that still have
/// samples: what clearing them would change.
pub async fn count_old_samples(
    executor: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let count = sqlx::query_scalar!(
        r#"
        SELECT count(*) AS "count!"
        FROM results JOIN runs ON runs.id = results.run_id
        WHERE runs.ingested_at < $1 AND results.samples IS NOT NULL
        "#,
        cutoff,
    )
    .fetch_one(executor)
    .await?;
    Ok(count as u64)
}

/// Returns when retention deleted the reports of a job, or `None` when it
/// did not (the job may still have no report).
pub async fn reports_deleted_at(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let deleted_at =
        sqlx::query_scalar!("SELECT reports_deleted_at FROM jobs WHERE id = $1", job_id)
            .fetch_optional(executor)
            .await?;
    Ok(deleted_at.flatten())
}
