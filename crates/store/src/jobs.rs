//! The job queue: one row per benchmark comparison of a pull request head,
//! claimed by agents under a lease.
//!
//! Each function runs one statement on the executor it is given, so callers
//! compose them inside one transaction (a webhook delivery records itself
//! and changes jobs atomically). The states and their transitions are
//! described in the migration that creates `jobs`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::actions_jobs::Backend;
use crate::commit_sha::full_sha;
use crate::StoreError;

/// The `LISTEN`/`NOTIFY` channel that announces a newly queued job. The
/// payload is the job id.
pub const JOB_QUEUED_CHANNEL: &str = "pitot_job_queued";

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for an agent.
    Queued,
    /// Claimed by an agent that holds a lease on it.
    Running,
    /// The agent reported; the server is ingesting and comparing the results.
    Ingesting,
    /// The comparison was posted.
    Reported,
    /// The job ended without a result; `error` gives the reason.
    Failed,
    /// The label was removed or the pull request closed.
    Cancelled,
    /// A push made the head outdated before any agent claimed it.
    Superseded,
}

impl JobState {
    /// Returns the name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Ingesting => "ingesting",
            JobState::Reported => "reported",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Superseded => "superseded",
        }
    }

    /// Returns whether the job has stopped for good unless someone queues it again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Reported | JobState::Failed | JobState::Cancelled | JobState::Superseded
        )
    }
}

impl FromStr for JobState {
    type Err = StoreError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let state = match value {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "ingesting" => JobState::Ingesting,
            "reported" => JobState::Reported,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            "superseded" => JobState::Superseded,
            // The `jobs_state_valid` constraint keeps other values out of the
            // table, so this only fires if the schema and the code disagree.
            other => {
                return Err(StoreError::Database(sqlx::Error::Decode(
                    format!("unknown job state {other:?}").into(),
                )))
            }
        };
        Ok(state)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The repository, pull request and commit of a job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequestJob<'a> {
    pub repository_id: i32,
    pub pr_number: i64,
    /// The full head commit hash; validated and lower-cased on insert.
    pub head_sha: &'a str,
    pub base_ref: &'a str,
    pub clone_url: &'a str,
    pub head_fetch_ref: Option<&'a str>,
    pub installation_id: Option<i64>,
    /// How many claims one run of the job may take before it fails.
    pub max_attempts: i32,
    /// A regular expression for `asv continuous --bench`; `None` runs every benchmark.
    pub bench: Option<&'a str>,
    /// The runner of the job, from the repository's configuration.
    pub backend: Backend,
    /// The ref an Actions workflow is dispatched on, when known.
    pub dispatch_ref: Option<&'a str>,
}

/// A job row with its repository's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub repository_id: i32,
    pub repository: String,
    pub pr_number: Option<i64>,
    pub kind: crate::commit_jobs::JobKind,
    pub head_sha: String,
    pub base_ref: String,
    pub base_sha: Option<String>,
    pub clone_url: String,
    pub head_fetch_ref: Option<String>,
    pub installation_id: Option<i64>,
    pub state: JobState,
    pub attempt: i32,
    pub attempt_limit: i32,
    pub agent: Option<String>,
    pub machine: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A job an agent has just claimed, with what it needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: i64,
    pub attempt: i32,
    pub repository: String,
    pub pr_number: Option<i64>,
    pub head_sha: String,
    pub base_ref: String,
    pub clone_url: String,
    pub head_fetch_ref: Option<String>,
    pub installation_id: Option<i64>,
    pub bench: Option<String>,
    /// What the job compares.
    pub kind: crate::commit_jobs::JobKind,
    /// The exact base commit of a history or release job; `None` for a
    /// pull request job, whose agent computes the merge-base.
    pub base_sha: Option<String>,
    /// How many times a calibration job runs asv on its commit; `None`
    /// for every other kind.
    pub calibration_passes: Option<i16>,
    /// Seconds from the moment the job last entered the queue to this claim.
    pub queue_wait_seconds: f64,
    /// asv's `rounds` for every benchmark, set for confirmation jobs.
    pub rounds: Option<i32>,
}

/// The state and attempt of a job, read when a lease call does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    pub attempt: i32,
    /// The agent of the latest attempt.
    pub agent: Option<String>,
    pub head_sha: String,
}

/// A running job whose lease ran out, and where the expiry sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub job_id: i64,
    pub attempt: i32,
    pub agent: Option<String>,
    /// `Queued` when attempts are left, else `Failed`.
    pub state: JobState,
}

/// Inserts a queued job for a pull request head and returns its id, or
/// `None` when that head already has a job.
pub async fn insert_pull_request_job(
    executor: impl PgExecutor<'_>,
    job: &NewPullRequestJob<'_>,
) -> Result<Option<i64>, StoreError> {
    let head_sha = full_sha(job.head_sha)?;
    // `DO NOTHING` on the partial unique index: a concurrent insert of the
    // same head waits for the first to commit and then returns no row.
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO jobs (repository_id, pr_number, head_sha, base_ref, clone_url,
                          head_fetch_ref, installation_id, attempt_limit, bench,
                          backend, dispatch_ref)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (repository_id, pr_number, head_sha) WHERE pr_number IS NOT NULL DO NOTHING
        RETURNING id
        "#,
        job.repository_id,
        job.pr_number,
        head_sha,
        job.base_ref,
        job.clone_url,
        job.head_fetch_ref,
        job.installation_id,
        job.max_attempts,
        job.bench,
        job.backend.as_str(),
        job.dispatch_ref,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Supersedes the queued and running jobs of the pull request's other
/// heads with `superseded_reason`, as [`supersede_other_heads`] with
/// `running` does, and inserts a queued job for the head, as
/// [`insert_pull_request_job`] does, in one statement. Returns the new
/// job's id, or `None` when the head already has a job.
///
/// Call it after writing the pull request's row in an earlier statement of
/// the same transaction. That statement waits for concurrent changes to the
/// pull request, and this one, which takes a newer snapshot, then reads the
/// jobs they committed. It sends no notification.
pub async fn queue_head_superseding_others(
    executor: impl PgExecutor<'_>,
    job: &NewPullRequestJob<'_>,
    superseded_reason: &str,
) -> Result<Option<i64>, StoreError> {
    let head_sha = full_sha(job.head_sha)?;
    // The insert reads the supersede's result, so the supersede runs
    // first and locks the other heads' rows before the new row is
    // inserted, in the order of the separate statements before it.
    // Otherwise a transaction that holds one of those rows and inserts the
    // same head, such as a command's, could deadlock with this one.
    let id = sqlx::query_scalar!(
        r#"
        WITH superseded AS (
            UPDATE jobs
            SET state = 'superseded', error = $12, lease_expires_at = NULL,
                finished_at = now(), updated_at = now()
            WHERE state IN ('queued', 'running')
              AND (
                  (repository_id = $1 AND pr_number = $2 AND head_sha <> $3)
                  OR (kind = 'confirm' AND parent_job_id IN (
                      SELECT id FROM jobs WHERE repository_id = $1 AND pr_number = $2 AND head_sha <> $3
                  ))
              )
            RETURNING id
        )
        INSERT INTO jobs (repository_id, pr_number, head_sha, base_ref, clone_url,
                          head_fetch_ref, installation_id, attempt_limit, bench,
                          backend, dispatch_ref)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
        FROM (SELECT count(*) FROM superseded) AS done
        ON CONFLICT (repository_id, pr_number, head_sha) WHERE pr_number IS NOT NULL DO NOTHING
        RETURNING id
        "#,
        job.repository_id,
        job.pr_number,
        head_sha,
        job.base_ref,
        job.clone_url,
        job.head_fetch_ref,
        job.installation_id,
        job.max_attempts,
        job.bench,
        job.backend.as_str(),
        job.dispatch_ref,
        superseded_reason,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Queues the finished job (reported, failed or cancelled) of a pull
/// request head again, on the same row, and returns its id. Returns `None`
/// when the head has no job or its job is not finished.
///
/// The attempt number keeps rising, so a late call from an agent of the
/// previous run is rejected. The limit moves up by `max_attempts`. The new
/// run gets a check run of its own (see `reporting`).
pub async fn requeue_finished_job(
    executor: impl PgExecutor<'_>,
    job: &NewPullRequestJob<'_>,
) -> Result<Option<i64>, StoreError> {
    let head_sha = full_sha(job.head_sha)?;
    // A superseded job stays superseded: its head is no longer the pull
    // request's head, so running it again would report an outdated commit.
    let id = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'queued', attempt_limit = attempt + $8, base_ref = $4, base_sha = NULL,
            clone_url = $5, head_fetch_ref = $6, installation_id = $7, bench = $9, error = NULL,
            check_run_id = NULL, check_run_requested = NULL, check_run_requested_at = NULL,
            github_synced = NULL, report_failures = 0, report_after = NULL,
            queued_at = now(), started_at = NULL, finished_at = NULL,
            dispatch_uncertain_at = NULL, updated_at = now()
        WHERE repository_id = $1 AND pr_number = $2 AND head_sha = $3
          AND state IN ('reported', 'failed', 'cancelled')
        RETURNING id
        "#,
        job.repository_id,
        job.pr_number,
        head_sha,
        job.base_ref,
        job.clone_url,
        job.head_fetch_ref,
        job.installation_id,
        job.max_attempts,
        job.bench,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Returns the id and state of a pull request head's job, if it has one.
pub async fn find_pull_request_job(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
    head_sha: &str,
) -> Result<Option<(i64, JobState)>, StoreError> {
    let head_sha = full_sha(head_sha)?;
    let row = sqlx::query!(
        "SELECT id, state FROM jobs WHERE repository_id = $1 AND pr_number = $2 AND head_sha = $3",
        repository_id,
        pr_number,
        head_sha,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| Ok((row.id, row.state.parse()?))).transpose()
}

/// The newest job of a pull request, what `/pitot rerun` runs again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestJob {
    pub id: i64,
    pub head_sha: String,
    pub base_ref: String,
    pub bench: Option<String>,
    pub state: JobState,
}

/// Returns the pull request's most recently queued job, if it has any.
pub async fn latest_pull_request_job(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
) -> Result<Option<LatestJob>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT id, head_sha, base_ref, bench, state FROM jobs
        WHERE repository_id = $1 AND pr_number = $2
        ORDER BY queued_at DESC, id DESC
        LIMIT 1
        "#,
        repository_id,
        pr_number,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(LatestJob {
            id: row.id,
            head_sha: row.head_sha,
            base_ref: row.base_ref,
            bench: row.bench,
            state: row.state.parse()?,
        })
    })
    .transpose()
}

/// Sends the job-queued notification. PostgreSQL delivers it when the
/// surrounding transaction commits, and drops it if it rolls back, so
/// listeners never see a job that does not exist yet.
pub async fn notify_job_queued(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        JOB_QUEUED_CHANNEL,
        job_id.to_string()
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Cancels the queued and running jobs of a pull request, confirmation jobs
/// included, recording `reason`, and returns their ids. An agent running
/// one learns of it at its next heartbeat.
pub async fn cancel_pull_request_jobs(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
    reason: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'cancelled', error = $3, lease_expires_at = NULL,
            finished_at = now(), updated_at = now()
        WHERE state IN ('queued', 'running')
          AND (
              (repository_id = $1 AND pr_number = $2)
              OR (kind = 'confirm' AND parent_job_id IN (
                  SELECT id FROM jobs WHERE repository_id = $1 AND pr_number = $2
              ))
          )
        RETURNING id
        "#,
        repository_id,
        pr_number,
        reason,
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Supersedes the pull request's jobs for heads other than `head_sha`: the
/// queued ones, and with `running` also those an agent is running, which
/// the agent stops at its next heartbeat. The confirmation jobs of those
/// heads go the same way, so no confirmation starts for a stale head.
/// Returns their ids.
pub async fn supersede_other_heads(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
    head_sha: &str,
    running: bool,
    reason: &str,
) -> Result<Vec<i64>, StoreError> {
    let head_sha = full_sha(head_sha)?;
    let ids = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'superseded', error = $5, lease_expires_at = NULL,
            finished_at = now(), updated_at = now()
        WHERE (state = 'queued' OR ($4 AND state = 'running'))
          AND (
              (repository_id = $1 AND pr_number = $2 AND head_sha <> $3)
              OR (kind = 'confirm' AND parent_job_id IN (
                  SELECT id FROM jobs WHERE repository_id = $1 AND pr_number = $2 AND head_sha <> $3
              ))
          )
        RETURNING id
        "#,
        repository_id,
        pr_number,
        head_sha,
        running,
        reason,
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Returns whether any job waits in the queue for an agent, including rows
/// another transaction holds locked at this moment. A claim that found
/// nothing while this is true skipped such a row: the reporter, for
/// example, writes a new check run's id into a queued job's row for a few
/// milliseconds. The claim should then look again soon instead of waiting
/// for the next notification. Jobs that require a machine other than
/// `machine` do not count.
pub async fn agent_job_queued(
    executor: impl PgExecutor<'_>,
    machine: &str,
) -> Result<bool, StoreError> {
    let queued = sqlx::query_scalar!(
        r#"
        SELECT EXISTS (
            SELECT 1 FROM jobs
            WHERE state = 'queued' AND backend = 'agent'
              AND (required_machine IS NULL OR required_machine = $1)
        ) AS "queued!"
        "#,
        machine,
    )
    .fetch_one(executor)
    .await?;
    Ok(queued)
}

/// Claims the oldest queued job for `agent` under a lease of `lease_seconds`
/// and returns it, or `None` when no job is queued. Jobs of the GitHub
/// Actions backend are left to the dispatcher, and a job with a
/// `required_machine` (a confirmation or a calibration) only goes to an
/// agent recording under that machine.
///
/// `FOR UPDATE SKIP LOCKED` lets many agents claim at once: each takes a
/// different row and none waits for another's transaction.
pub async fn claim_next_job(
    executor: impl PgExecutor<'_>,
    agent: &str,
    machine: &str,
    lease_seconds: f64,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = sqlx::query!(
        r#"
        WITH next AS (
            SELECT id FROM jobs
            WHERE state = 'queued' AND backend = 'agent'
              AND (required_machine IS NULL OR required_machine = $2)
            ORDER BY queued_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs
        SET state = 'running', attempt = jobs.attempt + 1, agent = $1, machine = $2,
            lease_expires_at = now() + make_interval(secs => $3), error = NULL,
            started_at = now(), updated_at = now()
        FROM next, repositories
        WHERE jobs.id = next.id AND repositories.id = jobs.repository_id
        RETURNING jobs.id, jobs.attempt, repositories.name AS repository, jobs.pr_number,
                  jobs.head_sha, jobs.base_ref, jobs.clone_url, jobs.head_fetch_ref,
                  jobs.installation_id, jobs.bench, jobs.kind, jobs.calibration_passes, jobs.rounds,
                  CASE WHEN jobs.kind = 'pull_request' THEN NULL ELSE jobs.base_sha END AS base_sha,
                  extract(epoch FROM now() - jobs.queued_at)::float8 AS "queue_wait_seconds!"
        "#,
        agent,
        machine,
        lease_seconds,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(ClaimedJob {
        id: row.id,
        attempt: row.attempt,
        repository: row.repository,
        pr_number: row.pr_number,
        head_sha: row.head_sha,
        base_ref: row.base_ref,
        clone_url: row.clone_url,
        head_fetch_ref: row.head_fetch_ref,
        installation_id: row.installation_id,
        bench: row.bench,
        kind: crate::commit_jobs::JobKind::parse(&row.kind)?,
        base_sha: row.base_sha,
        calibration_passes: row.calibration_passes,
        queue_wait_seconds: row.queue_wait_seconds,
        rounds: row.rounds,
        })
    })
    .transpose()
}

/// Extends the lease of a running job by `lease_seconds` from now, when
/// `agent` holds its current `attempt`, and records `base_sha` when given.
/// Returns whether the lease was renewed.
///
/// A lease that has run out but not yet been expired by the worker is still
/// renewed: the agent is evidently alive, and no other agent has the job.
pub async fn renew_lease(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    attempt: i32,
    agent: &str,
    lease_seconds: f64,
    base_sha: Option<&str>,
) -> Result<bool, StoreError> {
    let base_sha = base_sha.map(full_sha).transpose()?;
    let renewed = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET lease_expires_at = now() + make_interval(secs => $4),
            base_sha = COALESCE($5, base_sha), updated_at = now()
        WHERE id = $1 AND attempt = $2 AND agent = $3 AND state = 'running'
        RETURNING id
        "#,
        job_id,
        attempt,
        agent,
        lease_seconds,
        base_sha,
    )
    .fetch_optional(executor)
    .await?;
    Ok(renewed.is_some())
}

/// Sends every running job whose lease has run out back to the queue, or
/// fails it when its last attempt is used, and returns what changed.
pub async fn expire_leases(executor: impl PgExecutor<'_>) -> Result<Vec<ExpiredLease>, StoreError> {
    // A job that expires back to the queue keeps its `queued_at`, so it is
    // claimed again before jobs that were queued after it.
    let rows = sqlx::query!(
        r#"
        UPDATE jobs
        SET state = CASE WHEN attempt >= attempt_limit THEN 'failed' ELSE 'queued' END,
            error = CASE WHEN attempt >= attempt_limit
                THEN format('no attempts left: agent %s sent no heartbeat before the lease of attempt %s expired',
                            coalesce(agent, 'unknown'), attempt)
                END,
            finished_at = CASE WHEN attempt >= attempt_limit THEN now() END,
            lease_expires_at = NULL,
            updated_at = now()
        WHERE state = 'running' AND lease_expires_at < now()
        RETURNING id, attempt, agent, state
        "#
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(ExpiredLease {
                job_id: row.id,
                attempt: row.attempt,
                agent: row.agent,
                state: row.state.parse()?,
            })
        })
        .collect()
}

/// Returns a job's state, attempt, agent and head, or `None` when no job has
/// that id.
pub async fn job_status(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<JobStatus>, StoreError> {
    let row = sqlx::query!(
        "SELECT state, attempt, agent, head_sha FROM jobs WHERE id = $1",
        job_id
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(JobStatus {
            state: row.state.parse()?,
            attempt: row.attempt,
            agent: row.agent,
            head_sha: row.head_sha,
        })
    })
    .transpose()
}

/// Like [`job_status`], and locks the job's row until the transaction ends,
/// so that no heartbeat, expiry or webhook changes it in between.
pub async fn lock_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<JobStatus>, StoreError> {
    let row = sqlx::query!(
        "SELECT state, attempt, agent, head_sha FROM jobs WHERE id = $1 FOR UPDATE",
        job_id
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(JobStatus {
            state: row.state.parse()?,
            attempt: row.attempt,
            agent: row.agent,
            head_sha: row.head_sha,
        })
    })
    .transpose()
}

/// Moves a running job to `ingesting` once its agent's report is stored,
/// recording the merge-base and the agent's error. Returns the seconds
/// since the attempt was claimed, or `None` when the job was not running
/// under `attempt`. The caller has checked the agent under [`lock_job`].
pub async fn mark_job_ingesting(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    attempt: i32,
    base_sha: Option<&str>,
    error: Option<&str>,
) -> Result<Option<f64>, StoreError> {
    let base_sha = base_sha.map(full_sha).transpose()?;
    // A running job always has `started_at`, set by its claim.
    let run_seconds = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'ingesting', base_sha = COALESCE($3, base_sha), error = $4,
            lease_expires_at = NULL, updated_at = now()
        WHERE id = $1 AND attempt = $2 AND state = 'running'
        RETURNING extract(epoch FROM now() - started_at)::float8 AS "run_seconds!"
        "#,
        job_id,
        attempt,
        base_sha,
        error,
    )
    .fetch_optional(executor)
    .await?;
    Ok(run_seconds)
}

/// Returns how many jobs are in each state; states without jobs are left out.
///
/// This counts the whole table, which stays small (one row per pull request
/// head); it runs when `/metrics` is scraped.
pub async fn count_jobs_by_state(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<(JobState, i64)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT state, count(*) AS "count!" FROM jobs GROUP BY state ORDER BY state"#
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|row| Ok((row.state.parse()?, row.count)))
        .collect()
}

/// Returns a job with its repository's name, or `None` when no job has that id.
pub async fn load_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, jobs.repository_id, repositories.name AS repository, jobs.pr_number,
               jobs.head_sha, jobs.base_ref, jobs.base_sha, jobs.clone_url, jobs.head_fetch_ref,
               jobs.installation_id, jobs.state, jobs.attempt, jobs.attempt_limit, jobs.agent,
               jobs.machine, jobs.lease_expires_at, jobs.error, jobs.created_at, jobs.queued_at,
               jobs.started_at, jobs.finished_at, jobs.updated_at, jobs.kind
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.id = $1
        "#,
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Job {
        id: row.id,
        repository_id: row.repository_id,
        repository: row.repository,
        pr_number: row.pr_number,
        kind: crate::commit_jobs::JobKind::parse(&row.kind)?,
        head_sha: row.head_sha,
        base_ref: row.base_ref,
        base_sha: row.base_sha,
        clone_url: row.clone_url,
        head_fetch_ref: row.head_fetch_ref,
        installation_id: row.installation_id,
        state: row.state.parse()?,
        attempt: row.attempt,
        attempt_limit: row.attempt_limit,
        agent: row.agent,
        machine: row.machine,
        lease_expires_at: row.lease_expires_at,
        error: row.error,
        created_at: row.created_at,
        queued_at: row.queued_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        updated_at: row.updated_at,
    }))
}
