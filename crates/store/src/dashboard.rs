//! The read-only queries behind the dashboard's JSON API: repositories,
//! the overview of a suite, one benchmark's series, one series' history
//! and the list of jobs.
//!
//! Each function runs one statement, except a series' history, which reads
//! its commit hashes and versions apart (see `series_points`). Repositories are looked up by name
//! case-insensitively, as everywhere else in the store; an unknown name
//! gives an empty result or `None`, and the caller decides whether that is
//! a 404.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pitot_asv::Outcome;
use sqlx::postgres::PgPoolCopyExt;
use sqlx::{PgExecutor, PgPool};

use crate::commit_shas::CommitShas;
use crate::copy::CopyReader;
use crate::jobs::JobState;
use crate::StoreError;

/// A repository with the size of its stored history.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositorySummary {
    /// `owner/name`, spelt as when the repository was first stored.
    pub name: String,
    pub benchmarks: i64,
    pub machines: i64,
    pub runs: i64,
    pub jobs: i64,
    /// The commit date of the newest stored commit.
    pub latest_commit_at: Option<DateTime<Utc>>,
}

/// Returns every repository, ordered by name.
pub async fn list_repositories(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<RepositorySummary>, StoreError> {
    // A deployment has a handful of repositories, so each gets its own
    // correlated counts. Benchmarks, machines and commits are counted
    // through indexes that start with `repository_id`, and runs through
    // `runs_machine_environment_ingested` by machine. NOTE: jobs have no
    // such index, so that count scans the table once per repository.
    let rows = sqlx::query_as!(
        RepositorySummary,
        r#"SELECT repo.name,
                  (SELECT count(*) FROM benchmarks b WHERE b.repository_id = repo.id) AS "benchmarks!",
                  (SELECT count(*) FROM machines m WHERE m.repository_id = repo.id) AS "machines!",
                  (SELECT count(*) FROM runs r JOIN machines rm ON rm.id = r.machine_id
                   WHERE rm.repository_id = repo.id) AS "runs!",
                  (SELECT count(*) FROM jobs j WHERE j.repository_id = repo.id) AS "jobs!",
                  (SELECT max(c.committed_at) FROM commits c WHERE c.repository_id = repo.id) AS latest_commit_at
           FROM repositories repo
           ORDER BY lower(repo.name)"#
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// Returns a repository's name as it was first stored, or `None` when no
/// repository has that name (compared case-insensitively).
pub async fn repository_name(
    executor: impl PgExecutor<'_>,
    repository: &str,
) -> Result<Option<String>, StoreError> {
    let name = sqlx::query_scalar!(
        "SELECT name FROM repositories WHERE lower(name) = lower($1)",
        repository
    )
    .fetch_optional(executor)
    .await?;
    Ok(name)
}

/// A machine and environment that have results, with how many series.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineEnvironment {
    pub machine: String,
    pub environment: String,
    pub series: i64,
    /// The newest `ingested_at` of the pair's runs, which picks the
    /// overview's default pair.
    pub latest_run_at: Option<DateTime<Utc>>,
}

/// Returns the machine and environment pairs of a repository that have
/// series, the most recently run first; empty for an unknown repository.
pub async fn machine_environments(
    executor: impl PgExecutor<'_>,
    repository: &str,
) -> Result<Vec<MachineEnvironment>, StoreError> {
    let rows = sqlx::query_as!(
        MachineEnvironment,
        r#"SELECT m.name AS machine, e.name AS environment, count(*) AS "series!",
                  (SELECT max(r.ingested_at) FROM runs r
                   WHERE r.machine_id = m.id AND r.environment_id = e.id) AS latest_run_at
           FROM repositories repo
           JOIN machines m ON m.repository_id = repo.id
           JOIN series s ON s.machine_id = m.id
           JOIN environments e ON e.id = s.environment_id
           WHERE lower(repo.name) = lower($1)
           GROUP BY m.id, e.id
           ORDER BY latest_run_at DESC NULLS LAST, m.name, e.name"#,
        repository
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// One series of the suite overview with its most recent results.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewSeries {
    pub series_id: i64,
    pub benchmark: String,
    /// Parameter values as asv's repr() strings; empty without parameters.
    pub params: Vec<String>,
    pub kind: Option<String>,
    pub unit: Option<String>,
    /// The last results, oldest first: `None` for a failed or skipped one.
    pub recent: Vec<Option<f64>>,
    /// The outcome of the newest result.
    pub latest_outcome: Outcome,
    pub latest_commit: String,
    pub latest_commit_at: Option<DateTime<Utc>>,
}

/// Returns every series of a repository on one machine and environment
/// with its latest `points` dated results, ordered by benchmark and
/// parameters. Series without a dated result are left out.
///
/// This is one statement with two descents of `results_series_history`
/// per series: one for the sparkline and one for the latest result. Each
/// reads the end of the series' range in index order, as an index-only
/// scan once VACUUM has run. A suite of 7,500 series costs 15,000 short
/// range reads and no sort of the results. The latest commits' hashes come
/// from `commit_shas`.
pub async fn suite_overview(
    pool: &PgPool,
    commit_shas: &CommitShas,
    repository: &str,
    machine: &str,
    environment: &str,
    points: i64,
) -> Result<Vec<OverviewSeries>, StoreError> {
    // `ARRAY(subquery)` keeps the subquery's order, newest first, and Rust
    // turns it around. Aggregates with their own ORDER BY would sort each
    // series' points again, which took half of the statement's time.
    let rows = sqlx::query!(
        r#"SELECT s.id AS series_id, b.name AS benchmark, s.params, b.kind, b.unit,
                  ARRAY(
                      SELECT r.value FROM results r
                      WHERE r.series_id = s.id AND r.committed_at IS NOT NULL
                      ORDER BY r.committed_at DESC, r.commit_id DESC
                      LIMIT $4
                  ) AS "newest_first!: Vec<Option<f64>>",
                  latest.outcome::text AS "latest_outcome!",
                  latest.commit_id AS latest_commit_id, latest.committed_at AS latest_commit_at
           FROM repositories repo
           JOIN machines m ON m.repository_id = repo.id
           JOIN environments e ON e.repository_id = repo.id
           JOIN series s ON s.machine_id = m.id AND s.environment_id = e.id
           JOIN benchmarks b ON b.id = s.benchmark_id
           CROSS JOIN LATERAL (
               SELECT r.commit_id, r.committed_at, r.outcome
               FROM results r
               WHERE r.series_id = s.id AND r.committed_at IS NOT NULL
               ORDER BY r.committed_at DESC, r.commit_id DESC
               LIMIT 1
           ) latest
           WHERE lower(repo.name) = lower($1) AND m.name = $2 AND e.name = $3
           ORDER BY b.name, s.params"#,
        repository,
        machine,
        environment,
        points
    )
    .fetch_all(pool)
    .await?;
    let commit_ids: Vec<i64> = rows.iter().map(|row| row.latest_commit_id).collect();
    let shas = commit_shas.resolve(pool, &commit_ids).await?;
    Ok(rows
        .into_iter()
        .zip(shas)
        .map(|(row, latest_commit)| {
            let mut recent = row.newest_first;
            recent.reverse();
            OverviewSeries {
                series_id: row.series_id,
                benchmark: row.benchmark,
                params: row.params,
                kind: row.kind,
                unit: row.unit,
                latest_outcome: outcome(&row.latest_outcome, recent.last().copied().flatten()),
                recent,
                latest_commit,
                latest_commit_at: row.latest_commit_at,
            }
        })
        .collect())
}

/// A benchmark as the newest `benchmarks.json` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkInfo {
    pub name: String,
    pub kind: Option<String>,
    pub unit: Option<String>,
    pub param_names: Vec<String>,
    /// One list of repr() strings per parameter, as JSON.
    pub params: Option<serde_json::Value>,
    pub version: Option<String>,
}

/// Returns a benchmark of a repository, or `None` when either is unknown.
pub async fn find_benchmark(
    executor: impl PgExecutor<'_>,
    repository: &str,
    benchmark: &str,
) -> Result<Option<BenchmarkInfo>, StoreError> {
    let row = sqlx::query_as!(
        BenchmarkInfo,
        r#"SELECT b.name, b.kind, b.unit, coalesce(b.param_names, '{}') AS "param_names!",
                  b.params, b.version
           FROM benchmarks b
           JOIN repositories repo ON repo.id = b.repository_id
           WHERE lower(repo.name) = lower($1) AND b.name = $2"#,
        repository,
        benchmark
    )
    .fetch_optional(executor)
    .await?;
    Ok(row)
}

/// One series of a benchmark: a parameter combination on a machine in an
/// environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkSeries {
    pub series_id: i64,
    pub params: Vec<String>,
    pub machine: String,
    pub environment: String,
    /// The commit date of the newest result.
    pub latest_commit_at: Option<DateTime<Utc>>,
}

/// Returns the series of a benchmark, ordered by machine, environment and
/// parameters.
pub async fn benchmark_series(
    executor: impl PgExecutor<'_>,
    repository: &str,
    benchmark: &str,
) -> Result<Vec<BenchmarkSeries>, StoreError> {
    // `max(committed_at)` over one series is the last entry of its index range.
    let rows = sqlx::query_as!(
        BenchmarkSeries,
        r#"SELECT s.id AS series_id, s.params, m.name AS machine, e.name AS environment,
                  (SELECT max(r.committed_at) FROM results r WHERE r.series_id = s.id) AS latest_commit_at
           FROM benchmarks b
           JOIN repositories repo ON repo.id = b.repository_id
           JOIN series s ON s.benchmark_id = b.id
           JOIN machines m ON m.id = s.machine_id
           JOIN environments e ON e.id = s.environment_id
           WHERE lower(repo.name) = lower($1) AND b.name = $2
           ORDER BY m.name, e.name, s.params"#,
        repository,
        benchmark
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// A series' identity, for the history page's title.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub series_id: i64,
    pub benchmark: String,
    pub params: Vec<String>,
    pub machine: String,
    pub environment: String,
    pub kind: Option<String>,
    pub unit: Option<String>,
}

/// Returns a series of a repository, or `None` when the repository has no
/// series with that id.
pub async fn find_series(
    executor: impl PgExecutor<'_>,
    repository: &str,
    series_id: i64,
) -> Result<Option<SeriesInfo>, StoreError> {
    let row = sqlx::query_as!(
        SeriesInfo,
        r#"SELECT s.id AS series_id, b.name AS benchmark, s.params, m.name AS machine,
                  e.name AS environment, b.kind, b.unit
           FROM series s
           JOIN benchmarks b ON b.id = s.benchmark_id
           JOIN repositories repo ON repo.id = b.repository_id
           JOIN machines m ON m.id = s.machine_id
           JOIN environments e ON e.id = s.environment_id
           WHERE lower(repo.name) = lower($1) AND s.id = $2"#,
        repository,
        series_id
    )
    .fetch_optional(executor)
    .await?;
    Ok(row)
}

/// One result of a series' history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub commit: String,
    pub committed_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub ci_99: Option<(f64, f64)>,
    pub version: Option<String>,
}

/// Returns every result of a series, oldest first (commits without a
/// date last), in one range scan of `results_series_history`, which is
/// already in that order. Commit hashes come from `commit_shas` and the
/// versions, a few per series, from a second query.
pub async fn series_points(
    pool: &PgPool,
    commit_shas: &CommitShas,
    series_id: i64,
) -> Result<Vec<HistoryPoint>, StoreError> {
    let rows = series_rows(pool, series_id).await?;
    let commit_ids: Vec<i64> = rows.iter().map(|row| row.commit_id).collect();
    let (shas, versions) = tokio::try_join!(
        commit_shas.resolve(pool, &commit_ids),
        version_names(pool, rows.iter().filter_map(|row| row.version_id)),
    )?;
    Ok(rows
        .into_iter()
        .zip(shas)
        .map(|(row, sha)| HistoryPoint {
            commit: sha,
            committed_at: row.committed_at,
            outcome: row.outcome,
            ci_99: row.ci_99,
            version: row.version_id.and_then(|id| versions.get(&id).cloned()),
        })
        .collect())
}

/// One stored result of a series, as `series_rows` reads it.
struct SeriesRow {
    commit_id: i64,
    committed_at: Option<DateTime<Utc>>,
    outcome: Outcome,
    ci_99: Option<(f64, f64)>,
    version_id: Option<i32>,
}

/// Reads a series' results with a binary `COPY`, which costs pitot less CPU
/// time than the same query's result rows (docs/benchmarks.md has the
/// profile). `COPY` takes no bind parameters; the id is an integer, so
/// formatting it into the statement cannot change the statement.
async fn series_rows(pool: &PgPool, series_id: i64) -> Result<Vec<SeriesRow>, StoreError> {
    const FIELDS: i16 = 7;
    let statement = format!(
        "COPY (SELECT r.commit_id, r.committed_at, r.outcome, r.value, \
                      r.ci_99_low, r.ci_99_high, r.version_id \
               FROM results r WHERE r.series_id = {series_id} \
               ORDER BY r.committed_at, r.commit_id) \
         TO STDOUT (FORMAT binary)"
    );
    // The COPY runs in a task of its own, so it always reads to the end,
    // also when the request that wants it is dropped (a client that hangs
    // up). sqlx 0.8.6 does not count a COPY's pending ReadyForQuery, so a
    // stream dropped halfway returns a connection to the pool that has
    // not read that message, and its next query could take it for its own.
    let pool = pool.clone();
    let payload = tokio::spawn(async move {
        let mut stream = pool.copy_out_raw(&statement).await?;
        let mut payload = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            payload.extend_from_slice(&chunk?);
        }
        Ok::<_, sqlx::Error>(payload)
    })
    .await
    .map_err(|error| {
        StoreError::Database(sqlx::Error::Protocol(format!(
            "the COPY of series {series_id} failed: {error}"
        )))
    })??;

    let mut reader = CopyReader::new(&payload)?;
    let mut rows = Vec::new();
    while reader.next_row(FIELDS)? {
        let commit_id = reader.int8()?;
        let committed_at = reader.timestamptz()?;
        let outcome_label = reader.text()?;
        let value = reader.float8()?;
        let ci_99 = reader.float8()?.zip(reader.float8()?);
        let version_id = reader.int4()?;
        let (Some(commit_id), Some(outcome_label)) = (commit_id, outcome_label) else {
            return Err(StoreError::Database(sqlx::Error::Protocol(format!(
                "series {series_id} has a result without a commit id or an outcome"
            ))));
        };
        rows.push(SeriesRow {
            commit_id,
            committed_at,
            outcome: outcome(outcome_label, value),
            ci_99,
            version_id,
        });
    }
    Ok(rows)
}

/// Returns the version strings of the given `benchmark_versions` ids.
async fn version_names(
    pool: &PgPool,
    ids: impl Iterator<Item = i32>,
) -> Result<HashMap<i32, String>, StoreError> {
    let mut ids: Vec<i32> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query!(
        "SELECT id, version FROM benchmark_versions WHERE id = ANY($1)",
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.version)).collect())
}

/// A job as the runs list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub id: i64,
    pub pr_number: Option<i64>,
    pub head_sha: String,
    pub base_sha: Option<String>,
    pub state: JobState,
    pub machine: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Returns a repository's jobs, newest first, at most `limit` of them and
/// only those with an id below `before` when it is given.
pub async fn list_jobs(
    executor: impl PgExecutor<'_>,
    repository: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<JobSummary>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT j.id, j.pr_number, j.head_sha, j.base_sha, j.state, j.machine, j.error,
                  j.created_at, j.started_at, j.finished_at
           FROM jobs j
           JOIN repositories repo ON repo.id = j.repository_id
           WHERE lower(repo.name) = lower($1) AND ($2::bigint IS NULL OR j.id < $2)
           ORDER BY j.id DESC
           LIMIT $3"#,
        repository,
        before,
        limit
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(JobSummary {
                id: row.id,
                pr_number: row.pr_number,
                head_sha: row.head_sha,
                base_sha: row.base_sha,
                state: row.state.parse()?,
                machine: row.machine,
                error: row.error,
                created_at: row.created_at,
                started_at: row.started_at,
                finished_at: row.finished_at,
            })
        })
        .collect()
}

/// Returns the paths of a report's results files, ordered by path.
pub async fn report_file_paths(
    executor: impl PgExecutor<'_>,
    report_id: i64,
) -> Result<Vec<String>, StoreError> {
    let paths = sqlx::query_scalar!(
        "SELECT path FROM job_report_files WHERE report_id = $1 ORDER BY path",
        report_id
    )
    .fetch_all(executor)
    .await?;
    Ok(paths)
}

/// Returns one results file of a report, or `None` when it has no file at
/// `path`.
pub async fn report_file(
    executor: impl PgExecutor<'_>,
    report_id: i64,
    path: &str,
) -> Result<Option<String>, StoreError> {
    let content = sqlx::query_scalar!(
        "SELECT content FROM job_report_files WHERE report_id = $1 AND path = $2",
        report_id,
        path
    )
    .fetch_optional(executor)
    .await?;
    Ok(content)
}

/// Converts a stored outcome and value to asv's outcome. A `value` row
/// without a value cannot exist (a CHECK constraint), so it reads as failed.
fn outcome(stored: &str, value: Option<f64>) -> Outcome {
    match (stored, value) {
        ("value", Some(value)) => Outcome::Value(value),
        ("skipped", _) => Outcome::Skipped,
        _ => Outcome::Failed,
    }
}
