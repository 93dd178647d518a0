//! The reporter's queries on the job queue: the jobs whose GitHub state lags
//! behind their own, and records of what was written to GitHub.
//!
//! The columns are described in the migration that adds `github_synced`.
//! A job is pending while it belongs to a pull request and its
//! `github_synced` is not `completed`:
//!
//! * queued or running with nothing written: its check run must be created
//!   as in progress ([`jobs_without_check_run`]);
//! * ingesting, failed, cancelled or superseded: its comment and its check
//!   run's conclusion must be written ([`lock_next_to_report`]).

use sqlx::PgExecutor;

use crate::jobs::JobState;
use crate::StoreError;

/// A pull request job with the fields the reporter reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTask {
    pub job_id: i64,
    pub repository_id: i32,
    /// `owner/name`.
    pub repository: String,
    pub pr_number: i64,
    pub head_sha: String,
    /// The branch the pull request targets.
    pub base_ref: String,
    pub base_sha: Option<String>,
    pub installation_id: Option<i64>,
    pub state: JobState,
    pub attempt: i32,
    pub machine: Option<String>,
    pub error: Option<String>,
    pub check_run_id: Option<i64>,
    /// The external id of the last request for the job's check run, made by
    /// [`claim_check_run_request`].
    pub check_run_requested: Option<String>,
    /// The pull request's stored comment id, from an earlier report.
    pub comment_id: Option<i64>,
    /// Whether a GitHub Actions workflow ran the job, not a `pitot agent`.
    pub on_actions: bool,
}

/// A row of the reporter's job queries, before the state is parsed.
struct ReportTaskRow {
    id: i64,
    repository_id: i32,
    repository: String,
    pr_number: i64,
    head_sha: String,
    base_ref: String,
    base_sha: Option<String>,
    installation_id: Option<i64>,
    state: String,
    attempt: i32,
    machine: Option<String>,
    error: Option<String>,
    check_run_id: Option<i64>,
    check_run_requested: Option<String>,
    comment_id: Option<i64>,
    on_actions: bool,
}

impl TryFrom<ReportTaskRow> for ReportTask {
    type Error = StoreError;

    fn try_from(row: ReportTaskRow) -> Result<Self, Self::Error> {
        Ok(ReportTask {
            job_id: row.id,
            repository_id: row.repository_id,
            repository: row.repository,
            pr_number: row.pr_number,
            head_sha: row.head_sha,
            base_ref: row.base_ref,
            base_sha: row.base_sha,
            installation_id: row.installation_id,
            state: row.state.parse()?,
            attempt: row.attempt,
            machine: row.machine,
            error: row.error,
            check_run_id: row.check_run_id,
            check_run_requested: row.check_run_requested,
            comment_id: row.comment_id,
            on_actions: row.on_actions,
        })
    }
}

/// Returns up to `limit` queued or running pull request jobs that have no
/// check run yet, oldest change first. Rows are not locked: agents claim
/// these jobs meanwhile, and [`record_check_run`] only applies when nothing
/// was written for the run since.
pub async fn jobs_without_check_run(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<ReportTask>, StoreError> {
    let rows = sqlx::query_as!(
        ReportTaskRow,
        r#"
        SELECT jobs.id, jobs.repository_id, repositories.name AS repository,
               jobs.pr_number AS "pr_number!", jobs.head_sha, jobs.base_ref, jobs.base_sha, jobs.installation_id,
               jobs.state, jobs.attempt, jobs.machine, jobs.error, jobs.check_run_id,
               jobs.check_run_requested,
               pull_requests.comment_id AS "comment_id?",
               jobs.backend = 'actions' AS "on_actions!"
        FROM jobs
        JOIN repositories ON repositories.id = jobs.repository_id
        LEFT JOIN pull_requests
          ON pull_requests.repository_id = jobs.repository_id AND pull_requests.number = jobs.pr_number
        WHERE jobs.pr_number IS NOT NULL AND jobs.github_synced IS NULL
          AND jobs.state IN ('queued', 'running')
        ORDER BY jobs.updated_at, jobs.id
        LIMIT $1
        "#,
        limit,
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(ReportTask::try_from).collect()
}

/// Locks the oldest pull request job whose outcome is not written to
/// GitHub yet, skipping jobs another reporter holds, jobs waiting after a
/// failure or for their confirmation, jobs without a check run whose
/// in-progress run was requested less than `request_wait_seconds` ago, and
/// the jobs in `skip`, and returns it. The lock
/// lasts until the caller's transaction ends, so each outcome is written
/// once even with several server processes.
pub async fn lock_next_to_report(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
    request_wait_seconds: f64,
) -> Result<Option<ReportTask>, StoreError> {
    // `FOR UPDATE OF jobs` locks the job row only, not the pull request's.
    let row = sqlx::query_as!(
        ReportTaskRow,
        r#"
        SELECT jobs.id, jobs.repository_id, repositories.name AS repository,
               jobs.pr_number AS "pr_number!", jobs.head_sha, jobs.base_ref, jobs.base_sha, jobs.installation_id,
               jobs.state, jobs.attempt, jobs.machine, jobs.error, jobs.check_run_id,
               jobs.check_run_requested,
               pull_requests.comment_id AS "comment_id?",
               jobs.backend = 'actions' AS "on_actions!"
        FROM jobs
        JOIN repositories ON repositories.id = jobs.repository_id
        LEFT JOIN pull_requests
          ON pull_requests.repository_id = jobs.repository_id AND pull_requests.number = jobs.pr_number
        WHERE jobs.pr_number IS NOT NULL AND jobs.github_synced IS DISTINCT FROM 'completed'
          AND jobs.state IN ('ingesting', 'failed', 'cancelled', 'superseded')
          AND (jobs.report_after IS NULL OR jobs.report_after <= now())
          AND NOT (jobs.id = ANY($1))
          -- A job waits while a request for its in-progress check run
          -- may still be under way, so that its conclusion does not
          -- miss or duplicate that run.
          AND (jobs.check_run_id IS NOT NULL OR jobs.check_run_requested_at IS NULL
               OR jobs.check_run_requested_at <= now() - make_interval(secs => $2))
          -- A job waits while the confirmation of its current run is
          -- queued or running; the reporter then writes both at once.
          AND NOT EXISTS (
              SELECT 1 FROM jobs AS confirm
              WHERE confirm.kind = 'confirm' AND confirm.parent_job_id = jobs.id
                AND confirm.parent_attempt = jobs.attempt
                AND confirm.state IN ('queued', 'running')
          )
        ORDER BY jobs.updated_at, jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
        request_wait_seconds,
    )
    .fetch_optional(executor)
    .await?;
    row.map(ReportTask::try_from).transpose()
}

/// Claims the request for the in-progress check run of job `job_id` under
/// `external_id`, before the request is sent. Returns `None`, and changes
/// nothing, when the job has a check run or is no longer queued or
/// running, when another transaction has its row locked, or when a
/// request was claimed less than `wait_seconds` ago,
/// perhaps by another server: that request finishes, or the next claim
/// searches for its run. Otherwise returns the external id of the job's previous
/// request, whose run may exist on GitHub.
pub async fn claim_check_run_request(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    external_id: &str,
    wait_seconds: f64,
) -> Result<Option<Option<String>>, StoreError> {
    // A claim that finds the row locked, by a concurrent claim for
    // example, skips the job this round.
    let row = sqlx::query!(
        r#"
        WITH earlier AS (
            SELECT id, check_run_requested FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs SET check_run_requested = $2, check_run_requested_at = now()
        FROM earlier
        WHERE jobs.id = earlier.id AND jobs.check_run_id IS NULL AND jobs.github_synced IS NULL
          AND jobs.state IN ('queued', 'running')
          AND (jobs.check_run_requested_at IS NULL
               OR jobs.check_run_requested_at < now() - make_interval(secs => $3))
        RETURNING earlier.check_run_requested
        "#,
        job_id,
        external_id,
        wait_seconds,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| row.check_run_requested))
}

/// Records the in-progress check run of a job's current run and returns the
/// job's state. Returns `None`, and changes nothing, when the reporter already wrote something for the
/// job's current run, because the job finished while the check run was
/// being created.
///
/// NOTE: a job queued again while its check run was being created keeps
/// that check run for its new run. The new run's conclusion then updates it.
pub async fn record_check_run(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    check_run_id: i64,
) -> Result<Option<JobState>, StoreError> {
    let state = sqlx::query_scalar!(
        r#"
        UPDATE jobs SET check_run_id = $2, github_synced = 'in_progress'
        WHERE id = $1 AND github_synced IS NULL
        RETURNING state
        "#,
        job_id,
        check_run_id,
    )
    .fetch_optional(executor)
    .await?;
    state.map(|state| state.parse()).transpose()
}

/// The final state and records of a job whose outcome is written to GitHub.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedOutcome<'a> {
    /// `Reported` or `Failed` for an ingesting job; a job that was already
    /// failed, cancelled or superseded keeps its state whatever this field contains.
    pub state: JobState,
    /// The reason for `Failed`; kept when the job already has one.
    pub error: Option<&'a str>,
    pub check_run_id: Option<i64>,
    pub comment_body: Option<&'a str>,
}

/// Marks the job's current run as written to GitHub and, for an ingesting
/// job, moves it to its final state. The caller holds the row lock from
/// [`lock_next_to_report`].
pub async fn finish_report(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    outcome: &ReportedOutcome<'_>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE jobs
        SET state = CASE WHEN state = 'ingesting' THEN $2 ELSE state END,
            error = COALESCE(error, $3),
            check_run_id = COALESCE($4, check_run_id),
            comment_body = COALESCE($5, comment_body),
            github_synced = 'completed',
            finished_at = COALESCE(finished_at, now()),
            updated_at = now()
        WHERE id = $1
        "#,
        job_id,
        outcome.state.as_str(),
        outcome.error,
        outcome.check_run_id,
        outcome.comment_body,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the quarantines, as an object from benchmark name to kind,
/// that the charts of the job's comment were drawn with.
pub async fn record_chart_quarantines(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    quarantines: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE jobs SET chart_quarantines = $2 WHERE id = $1",
        job_id,
        quarantines,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns the quarantines recorded by [`record_chart_quarantines`], or
/// `None` when the job has none (or does not exist).
pub async fn chart_quarantines(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<serde_json::Value>, StoreError> {
    let value = sqlx::query_scalar!("SELECT chart_quarantines FROM jobs WHERE id = $1", job_id)
        .fetch_optional(executor)
        .await?;
    Ok(value.flatten())
}

/// Records a failed try at writing a job's outcome and returns how many
/// tries have failed for the current run. The job then waits before the
/// reporter takes it again: 10 seconds after the first failure, doubling
/// with each further one up to 15 minutes.
pub async fn record_report_failure(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<i32, StoreError> {
    let failures = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET report_failures = report_failures + 1,
            report_after = now() + least(interval '10 seconds' * power(2, report_failures), interval '15 minutes')
        WHERE id = $1
        RETURNING report_failures
        "#,
        job_id,
    )
    .fetch_one(executor)
    .await?;
    Ok(failures)
}

/// Takes the lock that makes the writers of one pull request's comment take
/// turns, without waiting, and returns whether it was free.
///
/// The lock is a transaction-level advisory lock keyed by repository id and
/// a 32-bit key folded from the pull request number (`comment_lock_key`),
/// so it lasts until the caller's transaction ends. Only the reporter takes
/// it, and it keeps it across GitHub calls, but no webhook delivery waits
/// for it.
pub async fn try_lock_pull_request_comment(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
) -> Result<bool, StoreError> {
    // The two-key form keeps these keys apart from the one-key locks, such
    // as sqlx's migration lock.
    let locked = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock($1, $2) AS "locked!""#,
        repository_id,
        comment_lock_key(pr_number),
    )
    .fetch_one(executor)
    .await?;
    Ok(locked)
}

/// Folds a pull request number into the 32-bit second key of the comment
/// lock. A number from 0 to `i32::MAX` is its own key, so these keys match
/// those of earlier pitot versions. Any other number gets its high 32 bits
/// XORed into its low 32 bits. Two pull requests of one repository whose
/// numbers share a key only take turns that they did not need to.
fn comment_lock_key(pr_number: i64) -> i32 {
    let folded = pr_number ^ (pr_number >> 32);
    // The cast keeps the low 32 bits and drops the rest, as intended.
    folded as i32
}

/// A job of the same pull request that was queued after another one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewerJob {
    pub job_id: i64,
    pub head_sha: String,
    pub state: JobState,
}

/// Returns the newest job of `job_id`'s pull request that was queued after
/// it and is queued, running, ingesting, reported or failed, or `None`. Such
/// a job writes the pull request's comment after `job_id`, or already did,
/// so `job_id`'s outcome must not replace it. Cancelled and superseded jobs
/// write no comment and do not count.
pub async fn newer_pull_request_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<NewerJob>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT newer.id, newer.head_sha, newer.state
        FROM jobs AS job
        JOIN jobs AS newer
          ON newer.repository_id = job.repository_id AND newer.pr_number = job.pr_number
        WHERE job.id = $1
          AND (newer.queued_at, newer.id) > (job.queued_at, job.id)
          AND newer.state IN ('queued', 'running', 'ingesting', 'reported', 'failed')
        ORDER BY newer.queued_at DESC, newer.id DESC
        LIMIT 1
        "#,
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(NewerJob {
            job_id: row.id,
            head_sha: row.head_sha,
            state: row.state.parse()?,
        })
    })
    .transpose()
}

/// Stores the id of pitot's comment on a pull request.
pub async fn record_comment_id(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    pr_number: i64,
    comment_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE pull_requests SET comment_id = $3 WHERE repository_id = $1 AND number = $2",
        repository_id,
        pr_number,
        comment_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// A job's state and what the reporter wrote for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub state: JobState,
    /// Whether the comment and the check run's conclusion are written.
    pub reported: bool,
    pub comment_body: Option<String>,
    pub error: Option<String>,
}

/// Returns a job's [`JobOutcome`], for callers that wait for a report
/// (`pitot demo`, tests), or `None` when no job has that id.
pub async fn job_outcome(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<JobOutcome>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT state, github_synced IS NOT DISTINCT FROM 'completed' AS "reported!", comment_body, error
        FROM jobs WHERE id = $1
        "#,
        job_id
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(JobOutcome {
            state: row.state.parse()?,
            reported: row.reported,
            comment_body: row.comment_body,
            error: row.error,
        })
    })
    .transpose()
}

/// Returns the id of the job for a pull request head, looked up by the
/// repository's `owner/name`.
pub async fn pull_request_job_id(
    executor: impl PgExecutor<'_>,
    repository: &str,
    pr_number: i64,
    head_sha: &str,
) -> Result<Option<i64>, StoreError> {
    let head_sha = crate::commit_sha::full_sha(head_sha)?;
    let id = sqlx::query_scalar!(
        r#"
        SELECT jobs.id FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE repositories.name = $1 AND jobs.pr_number = $2 AND jobs.head_sha = $3
        "#,
        repository,
        pr_number,
        head_sha,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Returns those of `shas` that are the head of some pull-request job of
/// the repository. Charts leave them out of a branch's history: a pull
/// request's head is not on the branch, but its results are stored in the
/// same series as the branch's commits.
pub async fn pull_request_heads_among(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    shas: &[String],
) -> Result<Vec<String>, StoreError> {
    // `jobs_pull_request_head_key` covers the three columns.
    let heads = sqlx::query_scalar!(
        r#"
        SELECT DISTINCT head_sha FROM jobs
        WHERE repository_id = $1 AND pr_number IS NOT NULL AND head_sha = ANY($2)
        "#,
        repository_id,
        shas,
    )
    .fetch_all(executor)
    .await?;
    Ok(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lock_key_folds_large_numbers() {
        let cases = [
            ("small number", 2, 2),
            ("largest int4", i64::from(i32::MAX), i32::MAX),
            ("just above int4", i64::from(i32::MAX) + 1, i32::MIN),
            ("high bits set", (1 << 32) + 7, 6),
            ("largest int8", i64::MAX, i32::MIN),
        ];

        for (case, pr_number, expected) in cases {
            assert_eq!(comment_lock_key(pr_number), expected, "{case}");
        }
    }

    #[sqlx::test(migrations = false)]
    async fn comment_lock_takes_any_pr_number(pool: sqlx::PgPool) {
        let numbers = [1, i64::from(i32::MAX) + 1, 1 << 40, i64::MAX];

        for pr_number in numbers {
            let mut first = pool.begin().await.expect("a first transaction");
            let mut second = pool.begin().await.expect("a second transaction");

            let first_locked = try_lock_pull_request_comment(&mut *first, 1, pr_number).await;
            let second_locked = try_lock_pull_request_comment(&mut *second, 1, pr_number).await;
            let other_repository_locked = try_lock_pull_request_comment(&mut *second, 2, pr_number).await;

            assert!(first_locked.expect("the first lock query"), "PR {pr_number}: lock not taken");
            assert!(!second_locked.expect("the second lock query"), "PR {pr_number}: lock taken twice");
            assert!(
                other_repository_locked.expect("the third lock query"),
                "PR {pr_number}: another repository's lock not taken"
            );
            first.rollback().await.expect("the first rollback");
            second.rollback().await.expect("the second rollback");
        }
    }
}
