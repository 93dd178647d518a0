//! Calibration jobs and the noise they measured. A calibration job runs asv
//! on one commit several times on one machine; the server stores, per
//! series, how far the passes differ (`calibration_noise`). The columns and
//! rules are described in the migration that adds calibration jobs.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::jobs::JobState;
use crate::StoreError;

/// A calibration job about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCalibrationJob<'a> {
    pub repository_id: i32,
    /// The full hash of the commit to benchmark against itself.
    pub sha: &'a str,
    /// The branch the agent fetches first, because it usually contains the commit.
    pub branch: &'a str,
    pub clone_url: &'a str,
    pub installation_id: Option<i64>,
    pub max_attempts: i32,
    /// The asv machine that must run the job; `None` lets any agent take it.
    pub required_machine: Option<&'a str>,
    /// How many times asv runs on the commit, 2 to 10.
    pub passes: i16,
}

/// Where a repository's calibration job fetches from and what it measures
/// by default, taken from the repository's newest finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationSource {
    pub clone_url: String,
    /// The default branch: a history job's branch, or the branch a pull
    /// request targets.
    pub branch: String,
    pub installation_id: Option<i64>,
    /// The newest benchmarked default-branch commit: a history or release
    /// job's head, or a pull request job's merge-base.
    pub newest_sha: Option<String>,
}

/// Inserts a queued calibration job and returns its id, or `None` when the
/// same commit already has an unfinished calibration for that machine.
pub async fn insert_calibration_job(
    executor: impl PgExecutor<'_>,
    job: &NewCalibrationJob<'_>,
) -> Result<Option<i64>, StoreError> {
    let sha = full_sha(job.sha)?;
    // The same commit on both sides satisfies `jobs_explicit_base` and
    // `jobs_calibration_same_commit`.
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url,
                          installation_id, attempt_limit, required_machine, calibration_passes)
        VALUES ($1, 'calibration', $2, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING
        RETURNING id
        "#,
        job.repository_id,
        sha,
        job.branch,
        job.clone_url,
        job.installation_id,
        job.max_attempts,
        job.required_machine,
        job.passes,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Returns the id of the unfinished calibration job of `sha` for
/// `required_machine` (`None`: any machine), if there is one.
pub async fn find_pending_calibration(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    sha: &str,
    required_machine: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let sha = full_sha(sha)?;
    let id = sqlx::query_scalar!(
        r#"
        SELECT id FROM jobs
        WHERE repository_id = $1 AND kind = 'calibration' AND head_sha = $2
          AND coalesce(required_machine, '') = coalesce($3, '')
          AND state IN ('queued', 'running', 'ingesting')
        "#,
        repository_id,
        sha,
        required_machine,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Returns the clone URL, branch and newest benchmarked default-branch
/// commit of a repository from its newest reported job of another kind, or
/// `None` when no job of the repository has been reported.
pub async fn calibration_source(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> Result<Option<CalibrationSource>, StoreError> {
    // A pull request job's merge-base is a default-branch commit that
    // asv has benchmarked, so a repository without history jobs still has
    // a default commit to calibrate on.
    let row = sqlx::query!(
        r#"
        SELECT clone_url, base_ref, installation_id,
               CASE WHEN kind = 'pull_request' THEN base_sha ELSE head_sha END AS newest_sha
        FROM jobs
        WHERE repository_id = $1 AND kind IN ('pull_request', 'history', 'release')
          AND state = 'reported'
        ORDER BY finished_at DESC, id DESC
        LIMIT 1
        "#,
        repository_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| CalibrationSource {
        clone_url: row.clone_url,
        branch: row.base_ref,
        installation_id: row.installation_id,
        newest_sha: row.newest_sha,
    }))
}

/// The noise of one series measured by a calibration job, about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSeriesNoise {
    pub machine: String,
    pub environment: String,
    pub benchmark: String,
    /// asv's display name with parameters, `benchmark(p1, p2)`.
    pub series_name: String,
    pub unit: Option<String>,
    pub passes: i16,
    pub relative_difference: Option<f64>,
    pub sample_spread: Option<f64>,
}

/// Stores the noise rows of calibration job `job_id` for `commit_sha` and
/// returns how many were inserted. Rows stored before for the same job and
/// series are left as they are, so a retried ingest changes nothing.
pub async fn insert_noise(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    repository_id: i32,
    commit_sha: &str,
    rows: &[NewSeriesNoise],
) -> Result<u64, StoreError> {
    let commit_sha = full_sha(commit_sha)?;
    let column = |pick: fn(&NewSeriesNoise) -> String| rows.iter().map(pick).collect::<Vec<_>>();
    let machines = column(|row| row.machine.clone());
    let environments = column(|row| row.environment.clone());
    let benchmarks = column(|row| row.benchmark.clone());
    let names = column(|row| row.series_name.clone());
    let units: Vec<Option<String>> = rows.iter().map(|row| row.unit.clone()).collect();
    let passes: Vec<i16> = rows.iter().map(|row| row.passes).collect();
    let differences: Vec<Option<f64>> = rows.iter().map(|row| row.relative_difference).collect();
    let spreads: Vec<Option<f64>> = rows.iter().map(|row| row.sample_spread).collect();

    let result = sqlx::query!(
        r#"
        INSERT INTO calibration_noise (job_id, repository_id, commit_sha, machine, environment,
                                       benchmark, series_name, unit, passes,
                                       relative_difference, sample_spread)
        SELECT $1, $2, $3, input.*
        FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[],
                    $10::float8[], $11::float8[])
            AS input(machine, environment, benchmark, series_name, unit, passes,
                     relative_difference, sample_spread)
        ON CONFLICT ON CONSTRAINT calibration_noise_pkey DO NOTHING
        "#,
        job_id,
        repository_id,
        commit_sha,
        &machines,
        &environments,
        &benchmarks,
        &names,
        &units as &[Option<String>],
        &passes,
        &differences as &[Option<f64>],
        &spreads as &[Option<f64>],
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// The newest calibrated noise of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesNoise {
    pub job_id: i64,
    pub commit_sha: String,
    pub series_name: String,
    pub passes: i16,
    pub relative_difference: Option<f64>,
    pub sample_spread: Option<f64>,
    pub measured_at: DateTime<Utc>,
}

/// Returns the newest calibrated noise of each of `series_names` on one
/// machine and environment of a repository. Series without a calibration
/// are left out.
pub async fn latest_series_noise(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    machine: &str,
    environment: &str,
    series_names: &[String],
) -> Result<Vec<SeriesNoise>, StoreError> {
    let rows = sqlx::query_as!(
        SeriesNoise,
        r#"
        SELECT DISTINCT ON (series_name)
               job_id, commit_sha, series_name, passes, relative_difference, sample_spread,
               measured_at
        FROM calibration_noise
        WHERE repository_id = $1 AND machine = $2 AND environment = $3
          AND series_name = ANY($4)
        ORDER BY series_name, measured_at DESC, job_id DESC
        "#,
        repository_id,
        machine,
        environment,
        series_names,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// A calibration job as listed by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationJob {
    pub id: i64,
    pub sha: String,
    pub state: JobState,
    pub required_machine: Option<String>,
    /// The machine that ran the latest attempt.
    pub machine: Option<String>,
    pub passes: i16,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Returns a repository's calibration jobs, newest first, at most `limit`.
pub async fn list_calibration_jobs(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    limit: i64,
) -> Result<Vec<CalibrationJob>, StoreError> {
    let rows = sqlx::query!(
        r#"
        SELECT id, head_sha, state, required_machine, machine,
               calibration_passes AS "passes!", error, created_at, finished_at
        FROM jobs
        WHERE repository_id = $1 AND kind = 'calibration'
        ORDER BY created_at DESC, id DESC
        LIMIT $2
        "#,
        repository_id,
        limit,
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(CalibrationJob {
                id: row.id,
                sha: row.head_sha,
                state: row.state.parse()?,
                required_machine: row.required_machine,
                machine: row.machine,
                passes: row.passes,
                error: row.error,
                created_at: row.created_at,
                finished_at: row.finished_at,
            })
        })
        .collect()
}

/// One stored noise row of a calibration job.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNoise {
    pub job_id: i64,
    pub machine: String,
    pub environment: String,
    pub benchmark: String,
    pub series_name: String,
    pub unit: Option<String>,
    pub passes: i16,
    pub relative_difference: Option<f64>,
    pub sample_spread: Option<f64>,
    pub measured_at: DateTime<Utc>,
}

/// Returns the noise rows of the given calibration jobs, ordered by job,
/// machine, environment and series.
pub async fn noise_of_jobs(
    executor: impl PgExecutor<'_>,
    job_ids: &[i64],
) -> Result<Vec<StoredNoise>, StoreError> {
    let rows = sqlx::query_as!(
        StoredNoise,
        r#"
        SELECT job_id, machine, environment, benchmark, series_name, unit, passes,
               relative_difference, sample_spread, measured_at
        FROM calibration_noise
        WHERE job_id = ANY($1)
        ORDER BY job_id, machine, environment, series_name
        "#,
        job_ids,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}
