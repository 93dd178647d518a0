//! The reports agents send at the end of an attempt, stored verbatim before any
//! ingest or comparison so that those steps can be re-run from it.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::StoreError;

/// The `LISTEN`/`NOTIFY` channel that announces a stored report. The payload
/// is the job id.
pub const REPORT_STORED_CHANNEL: &str = "pitot_report_stored";

/// A report about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJobReport<'a> {
    pub job_id: i64,
    pub attempt: i32,
    /// `completed` or `failed`, as the agent API names them.
    pub outcome: &'a str,
    pub machine: &'a str,
    pub head_sha: &'a str,
    pub base_sha: Option<&'a str>,
    pub benchmarks_json: Option<&'a str>,
    pub log: &'a str,
    pub error: Option<&'a str>,
}

/// A stored report, without its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub id: i64,
    pub job_id: i64,
    pub attempt: i32,
    pub outcome: String,
    pub machine: String,
    pub head_sha: String,
    pub base_sha: Option<String>,
    pub benchmarks_json: Option<String>,
    pub log: String,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// One results file of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// `<machine>/<file>.json`, relative to asv's results folder.
    pub path: String,
    pub content: String,
}

/// Stores a report and returns its id, or `None` when the attempt already
/// has one (an agent retrying after a network error).
pub async fn insert_job_report(
    executor: impl PgExecutor<'_>,
    report: &NewJobReport<'_>,
) -> Result<Option<i64>, StoreError> {
    let head_sha = full_sha(report.head_sha)?;
    let base_sha = report.base_sha.map(full_sha).transpose()?;
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO job_reports (job_id, attempt, outcome, machine, head_sha, base_sha,
                                 benchmarks_json, log, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (job_id, attempt) DO NOTHING
        RETURNING id
        "#,
        report.job_id,
        report.attempt,
        report.outcome,
        report.machine,
        head_sha,
        base_sha,
        report.benchmarks_json,
        report.log,
        report.error,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Stores the results files of a report in one statement.
pub async fn insert_report_files(
    executor: impl PgExecutor<'_>,
    report_id: i64,
    files: &[(&str, &str)],
) -> Result<(), StoreError> {
    let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
    let contents: Vec<&str> = files.iter().map(|(_, content)| *content).collect();
    sqlx::query!(
        r#"
        INSERT INTO job_report_files (report_id, path, content)
        SELECT $1, path, content FROM UNNEST($2::text[], $3::text[]) AS file (path, content)
        "#,
        report_id,
        &paths as &[&str],
        &contents as &[&str],
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns whether the attempt of a job already has a stored report.
pub async fn report_exists(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    attempt: i32,
) -> Result<bool, StoreError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM job_reports WHERE job_id = $1 AND attempt = $2) AS "exists!""#,
        job_id,
        attempt,
    )
    .fetch_one(executor)
    .await?;
    Ok(exists)
}

/// Sends the report-stored notification; like every notification it is
/// delivered when the surrounding transaction commits.
pub async fn notify_report_stored(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        REPORT_STORED_CHANNEL,
        job_id.to_string()
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns the report of a job's latest reported attempt, if any.
pub async fn latest_job_report(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<JobReport>, StoreError> {
    let report = sqlx::query_as!(
        JobReport,
        r#"
        SELECT id, job_id, attempt, outcome, machine, head_sha, base_sha, benchmarks_json,
               log, error, received_at
        FROM job_reports
        WHERE job_id = $1
        ORDER BY attempt DESC
        LIMIT 1
        "#,
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(report)
}

/// Returns the results files of a report, ordered by path.
pub async fn load_report_files(
    executor: impl PgExecutor<'_>,
    report_id: i64,
) -> Result<Vec<ReportFile>, StoreError> {
    let files = sqlx::query_as!(
        ReportFile,
        "SELECT path, content FROM job_report_files WHERE report_id = $1 ORDER BY path",
        report_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(files)
}
