//! The job queue's statements for jobs that a GitHub Actions workflow runs:
//! choosing the backend at queue time, dispatching, recording the workflow
//! run, and finding the jobs whose run completed or needs a poll.
//!
//! An actions job has no lease. It is `running` from the dispatch until
//! the run's artifact was stored (`ingesting`) or the job failed. The
//! `workflow_run` webhook, or the polling fallback, records the run's
//! conclusion, and the collector then takes the job.

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::StoreError;

/// The runner of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// A `pitot agent` claims it.
    #[default]
    Agent,
    /// pitot dispatches a GitHub Actions workflow for it.
    Actions,
}

impl Backend {
    /// Returns the name stored in the `backend` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Agent => "agent",
            Backend::Actions => "actions",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queued actions job, locked for dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchTask {
    pub job_id: i64,
    pub repository: String,
    pub head_sha: String,
    pub base_ref: String,
    pub bench: Option<String>,
    pub installation_id: Option<i64>,
    /// The repository's default branch as the webhook payload named it.
    pub dispatch_ref: Option<String>,
    /// The base commit of a history or release job, given when it was
    /// queued; `None` for a pull request job, whose merge-base is computed.
    pub fixed_base_sha: Option<String>,
    /// A run of an earlier queueing of the job that may still be going and
    /// was not cancelled yet.
    pub stale_workflow_run_id: Option<i64>,
    /// Every run of the job's earlier queueings, which a lookup by title
    /// must skip.
    pub earlier_runs: Vec<i64>,
    /// The latest dispatch, when it failed in a way that may have started
    /// a run anyway (see [`mark_dispatch_uncertain`]).
    pub uncertain_dispatch: Option<UncertainDispatch>,
}

/// A dispatch that timed out or got a server error, and may have started
/// a run anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncertainDispatch {
    pub at: DateTime<Utc>,
    /// How long ago that was, by the database's clock, which also set `at`.
    pub elapsed: std::time::Duration,
    /// The merge-base that the dispatch gave its run.
    pub base_sha: String,
}

/// A running actions job whose workflow run completed, locked for collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectTask {
    pub job_id: i64,
    pub attempt: i32,
    pub repository: String,
    pub head_sha: String,
    pub base_sha: Option<String>,
    pub installation_id: Option<i64>,
    pub workflow_run_id: Option<i64>,
    pub conclusion: String,
    /// Failed download tries before this one.
    pub collect_failures: i32,
}

/// A cancelled or superseded actions job whose workflow run pitot has not
/// cancelled yet, locked for the cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelTask {
    pub job_id: i64,
    pub repository: String,
    pub installation_id: Option<i64>,
    pub workflow_run_id: i64,
    /// Failed cancel requests before this one.
    pub failures: i32,
}

/// A cancelled or superseded actions job whose last dispatch was uncertain.
/// Its run, if the dispatch started one, is not known yet, so the job is
/// locked while pitot looks for that run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncertainRunTask {
    pub job_id: i64,
    pub repository: String,
    pub installation_id: Option<i64>,
    /// When the uncertain dispatch was sent, and how long ago.
    pub at: DateTime<Utc>,
    pub elapsed: std::time::Duration,
    /// The runs of earlier queueings, which are not the one looked for.
    pub earlier_runs: Vec<i64>,
}

/// A running actions job that has waited so long for its `workflow_run`
/// delivery that pitot polls GitHub for the run instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTask {
    pub job_id: i64,
    pub repository: String,
    pub installation_id: Option<i64>,
    pub workflow_run_id: Option<i64>,
    pub dispatched_at: DateTime<Utc>,
    /// The runs of earlier queueings, which a lookup by title must skip.
    pub earlier_runs: Vec<i64>,
}

/// Sets the backend of a queued job and the ref its workflow is dispatched
/// on, and clears what a previous run of the job recorded about its
/// workflow. The previous run joins `earlier_workflow_run_ids`, and when it
/// neither completed nor was cancelled yet, it is also kept in
/// `stale_workflow_run_id`, for the dispatch to cancel. Returns
/// whether the job was queued; a running job keeps its backend until it
/// finishes.
pub async fn set_job_backend(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    backend: Backend,
    dispatch_ref: Option<&str>,
) -> Result<bool, StoreError> {
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET backend = $2, dispatch_ref = $3,
            stale_workflow_run_id = CASE
                WHEN workflow_run_id IS NOT NULL AND workflow_conclusion IS NULL
                     AND workflow_cancelled_at IS NULL THEN workflow_run_id
                ELSE stale_workflow_run_id
            END,
            earlier_workflow_run_ids = CASE
                WHEN workflow_run_id IS NULL THEN earlier_workflow_run_ids
                ELSE array_append(earlier_workflow_run_ids, workflow_run_id)
            END,
            workflow_run_id = NULL, dispatched_at = NULL,
            workflow_polled_at = NULL, workflow_conclusion = NULL, collect_failures = 0,
            collect_retry_after = NULL, workflow_cancelled_at = NULL,
            workflow_cancel_failures = 0
        WHERE id = $1 AND state = 'queued'
        RETURNING id
        "#,
        job_id,
        backend.as_str(),
        dispatch_ref,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}

/// Locks the oldest queued actions job not in `skip` and returns it, or
/// `None` when there is none. The lock lasts until the transaction ends.
pub async fn lock_next_dispatch(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
) -> Result<Option<DispatchTask>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, repositories.name AS repository, jobs.head_sha, jobs.base_ref,
               jobs.bench, jobs.installation_id, jobs.dispatch_ref,
               CASE WHEN jobs.kind = 'pull_request' THEN NULL ELSE jobs.base_sha END
                   AS "fixed_base_sha?",
               jobs.stale_workflow_run_id, jobs.earlier_workflow_run_ids, jobs.dispatch_uncertain_at,
               EXTRACT(EPOCH FROM now() - jobs.dispatch_uncertain_at)::float8 AS "uncertain_seconds?",
               jobs.base_sha
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.backend = 'actions' AND jobs.state = 'queued' AND NOT (jobs.id = ANY($1))
        ORDER BY jobs.queued_at, jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| DispatchTask {
        job_id: row.id,
        repository: row.repository,
        head_sha: row.head_sha,
        base_ref: row.base_ref,
        bench: row.bench,
        installation_id: row.installation_id,
        dispatch_ref: row.dispatch_ref,
        fixed_base_sha: row.fixed_base_sha,
        stale_workflow_run_id: row.stale_workflow_run_id,
        earlier_runs: row.earlier_workflow_run_ids,
        // `mark_dispatch_uncertain` sets the time and the merge-base together.
        uncertain_dispatch: match (row.dispatch_uncertain_at, row.uncertain_seconds, row.base_sha) {
            (Some(at), Some(seconds), Some(base_sha)) => Some(UncertainDispatch {
                at,
                elapsed: std::time::Duration::from_secs_f64(seconds.max(0.0)),
                base_sha,
            }),
            _ => None,
        },
    }))
}

/// Records that a dispatch of the queued actions job failed in a way that
/// may have started a run anyway (the request timed out, or GitHub
/// returned a server error), and the merge-base that run was given.
/// Returns whether the job was queued.
///
/// Each uncertain dispatch sets the time anew, so each gets its own wait
/// before the next dispatch. The run of an earlier one was not listed
/// within its wait and is not looked for again.
pub async fn mark_dispatch_uncertain(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    base_sha: &str,
) -> Result<bool, StoreError> {
    let base_sha = full_sha(base_sha)?;
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET dispatch_uncertain_at = now(), base_sha = $2, updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state = 'queued'
        RETURNING id
        "#,
        job_id,
        base_sha,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}

/// Moves a queued actions job to `running` once its workflow was
/// dispatched, recording the merge-base it benchmarks and the run's id
/// when GitHub returned it, and clears the stale run that the dispatch
/// tried to cancel and the mark of an uncertain dispatch. Returns the new attempt number, or `None` when the job
/// was not queued.
pub async fn mark_dispatched(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    base_sha: &str,
    workflow_run_id: Option<i64>,
) -> Result<Option<i32>, StoreError> {
    let base_sha = full_sha(base_sha)?;
    let attempt = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'running', attempt = attempt + 1, base_sha = $2, workflow_run_id = $3,
            agent = NULL, machine = NULL, error = NULL, started_at = now(), dispatched_at = now(),
            workflow_polled_at = NULL, workflow_conclusion = NULL, stale_workflow_run_id = NULL,
            dispatch_uncertain_at = NULL, updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state = 'queued'
        RETURNING attempt
        "#,
        job_id,
        base_sha,
        workflow_run_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(attempt)
}

/// Records the workflow run of a running actions job that has none yet.
/// Returns whether it was recorded.
pub async fn record_workflow_run(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    workflow_run_id: i64,
) -> Result<bool, StoreError> {
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs SET workflow_run_id = $2, updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state = 'running' AND workflow_run_id IS NULL
        RETURNING id
        "#,
        job_id,
        workflow_run_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}

/// Finds the running actions job of `repository` (`owner/name`) that a
/// workflow run belongs to and returns its id. That is the job that
/// recorded `workflow_run_id`. Failing that, it is job `named_job_id`
/// (read from the run's title `pitot job <id>`), if that job has no run
/// recorded, the run is not one of its earlier queueings', and the job was
/// dispatched no later than the run was created.
///
/// The last two checks keep a late run of an earlier attempt from passing
/// for the current one when GitHub did not return the current run's id.
pub async fn find_job_for_run(
    executor: impl PgExecutor<'_>,
    repository: &str,
    workflow_run_id: i64,
    named_job_id: Option<i64>,
    run_created_at: Option<DateTime<Utc>>,
) -> Result<Option<i64>, StoreError> {
    // A minute of slack covers clock differences between pitot and GitHub.
    let job_id = sqlx::query_scalar!(
        r#"
        SELECT jobs.id
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE lower(repositories.name) = lower($1) AND jobs.backend = 'actions'
          AND jobs.state = 'running'
          AND (jobs.workflow_run_id = $2
               OR (jobs.id = $3 AND jobs.workflow_run_id IS NULL
                   AND NOT ($2 = ANY(jobs.earlier_workflow_run_ids))
                   AND ($4::timestamptz IS NULL
                        OR jobs.dispatched_at <= $4::timestamptz + interval '1 minute')))
        ORDER BY (jobs.workflow_run_id = $2) DESC NULLS LAST
        LIMIT 1
        "#,
        repository,
        workflow_run_id,
        named_job_id,
        run_created_at,
    )
    .fetch_optional(executor)
    .await?;
    Ok(job_id)
}

/// Records that the workflow run of a running actions job completed with
/// `conclusion`, so the collector takes the job. Returns whether the job
/// was still waiting for its run.
pub async fn record_run_completed(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    workflow_run_id: i64,
    conclusion: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET workflow_run_id = $2, workflow_conclusion = $3, updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state = 'running'
          AND workflow_conclusion IS NULL
        RETURNING id
        "#,
        job_id,
        workflow_run_id,
        conclusion,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}

/// Locks the oldest running actions job whose run completed, not in
/// `skip` and not waiting for a retry after a failed download, and
/// returns it, or `None` when there is none.
pub async fn lock_next_completed(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
) -> Result<Option<CollectTask>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, jobs.attempt, repositories.name AS repository, jobs.head_sha,
               jobs.base_sha, jobs.installation_id, jobs.workflow_run_id,
               jobs.workflow_conclusion AS "conclusion!", jobs.collect_failures
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.backend = 'actions' AND jobs.state = 'running'
          AND jobs.workflow_conclusion IS NOT NULL AND NOT (jobs.id = ANY($1))
          AND (jobs.collect_retry_after IS NULL OR jobs.collect_retry_after <= now())
        ORDER BY jobs.queued_at, jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| CollectTask {
        job_id: row.id,
        attempt: row.attempt,
        repository: row.repository,
        head_sha: row.head_sha,
        base_sha: row.base_sha,
        installation_id: row.installation_id,
        workflow_run_id: row.workflow_run_id,
        conclusion: row.conclusion,
        collect_failures: row.collect_failures,
    }))
}

/// Records a failed download try of a running actions job and leaves the
/// job alone for `retry_after_seconds`. Returns the failures so far.
pub async fn record_collect_failure(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    retry_after_seconds: f64,
) -> Result<i32, StoreError> {
    let failures = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET collect_failures = collect_failures + 1,
            collect_retry_after = now() + make_interval(secs => $2)
        WHERE id = $1 AND backend = 'actions' AND state = 'running'
        RETURNING collect_failures
        "#,
        job_id,
        retry_after_seconds,
    )
    .fetch_optional(executor)
    .await?;
    Ok(failures.unwrap_or(0))
}

/// Locks the oldest cancelled or superseded actions job, not in `skip`,
/// whose workflow run has no recorded conclusion, has not been cancelled
/// yet, and failed to cancel fewer than `max_failures` times.
pub async fn lock_next_run_to_cancel(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
    max_failures: i32,
) -> Result<Option<CancelTask>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, repositories.name AS repository, jobs.installation_id,
               jobs.workflow_run_id AS "workflow_run_id!", jobs.workflow_cancel_failures
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.backend = 'actions' AND jobs.state IN ('cancelled', 'superseded')
          AND jobs.workflow_run_id IS NOT NULL AND jobs.workflow_conclusion IS NULL
          AND jobs.workflow_cancelled_at IS NULL
          AND jobs.workflow_cancel_failures < $2 AND NOT (jobs.id = ANY($1))
        ORDER BY jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
        max_failures,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| CancelTask {
        job_id: row.id,
        repository: row.repository,
        installation_id: row.installation_id,
        workflow_run_id: row.workflow_run_id,
        failures: row.workflow_cancel_failures,
    }))
}

/// Records that GitHub accepted the cancel of the job's run, or that the
/// run had already ended.
pub async fn mark_run_cancelled(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE jobs SET workflow_cancelled_at = now() WHERE id = $1",
        job_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records a failed cancel request and returns the failures so far. The
/// count becomes at least `at_least`, so that an error that retrying
/// cannot fix ends the tries at once.
pub async fn record_cancel_failure(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    at_least: i32,
) -> Result<i32, StoreError> {
    let failures = sqlx::query_scalar!(
        r#"
        UPDATE jobs SET workflow_cancel_failures = GREATEST(workflow_cancel_failures + 1, $2)
        WHERE id = $1
        RETURNING workflow_cancel_failures
        "#,
        job_id,
        at_least,
    )
    .fetch_one(executor)
    .await?;
    Ok(failures)
}

/// Locks the oldest cancelled or superseded actions job, not in `skip`,
/// that was cancelled while its last dispatch was uncertain: it has no
/// recorded run, and the dispatch may have started one.
pub async fn lock_next_uncertain_run(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
) -> Result<Option<UncertainRunTask>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, repositories.name AS repository, jobs.installation_id,
               jobs.dispatch_uncertain_at AS "at!",
               EXTRACT(EPOCH FROM now() - jobs.dispatch_uncertain_at)::float8 AS "elapsed_seconds!",
               jobs.earlier_workflow_run_ids
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.backend = 'actions' AND jobs.state IN ('cancelled', 'superseded')
          AND jobs.workflow_run_id IS NULL AND jobs.dispatch_uncertain_at IS NOT NULL
          AND NOT (jobs.id = ANY($1))
        ORDER BY jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| UncertainRunTask {
        job_id: row.id,
        repository: row.repository,
        installation_id: row.installation_id,
        at: row.at,
        elapsed: std::time::Duration::from_secs_f64(row.elapsed_seconds.max(0.0)),
        earlier_runs: row.earlier_workflow_run_ids,
    }))
}

/// Ends the search for the run of a cancelled job's uncertain dispatch:
/// records the run when it was found, so that the cancel step cancels it,
/// and clears the mark of the uncertain dispatch either way. Returns
/// whether the job was still cancelled or superseded without a run.
pub async fn end_uncertain_run_search(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    workflow_run_id: Option<i64>,
) -> Result<bool, StoreError> {
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs SET workflow_run_id = $2, dispatch_uncertain_at = NULL, updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state IN ('cancelled', 'superseded')
          AND workflow_run_id IS NULL
        RETURNING id
        "#,
        job_id,
        workflow_run_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}

/// Returns up to `limit` running actions jobs without a recorded
/// conclusion that were dispatched, and last polled, more than
/// `after_seconds` ago, oldest poll first.
pub async fn jobs_to_poll(
    executor: impl PgExecutor<'_>,
    after_seconds: f64,
    limit: i64,
) -> Result<Vec<PollTask>, StoreError> {
    let rows = sqlx::query!(
        r#"
        SELECT jobs.id, repositories.name AS repository, jobs.installation_id,
               jobs.workflow_run_id, jobs.dispatched_at AS "dispatched_at!",
               jobs.earlier_workflow_run_ids
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.backend = 'actions' AND jobs.state = 'running'
          AND jobs.workflow_conclusion IS NULL AND jobs.dispatched_at IS NOT NULL
          AND jobs.dispatched_at < now() - make_interval(secs => $1)
          AND (jobs.workflow_polled_at IS NULL
               OR jobs.workflow_polled_at < now() - make_interval(secs => $1))
        ORDER BY jobs.workflow_polled_at NULLS FIRST, jobs.id
        LIMIT $2
        "#,
        after_seconds,
        limit,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PollTask {
            job_id: row.id,
            repository: row.repository,
            installation_id: row.installation_id,
            workflow_run_id: row.workflow_run_id,
            dispatched_at: row.dispatched_at,
            earlier_runs: row.earlier_workflow_run_ids,
        })
        .collect())
}

/// Records that pitot asked GitHub about the job's run just now.
pub async fn mark_polled(executor: impl PgExecutor<'_>, job_id: i64) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE jobs SET workflow_polled_at = now() WHERE id = $1",
        job_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Fails a queued or running actions job with `reason`, which the pull
/// request's comment shows. Returns whether the job was failed.
pub async fn fail_actions_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
        WHERE id = $1 AND backend = 'actions' AND state IN ('queued', 'running')
        RETURNING id
        "#,
        job_id,
        reason,
    )
    .fetch_optional(executor)
    .await?;
    Ok(updated.is_some())
}
