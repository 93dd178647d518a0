//! Confirmation jobs: a second run of only the benchmarks that a pull
//! request job flagged as regressions, with more rounds, on the machine
//! that flagged them. The columns are described in the migration that adds
//! `parent_job_id`.
//!
//! The reporter queues one when a comparison flags regressions and leaves
//! the parent job `ingesting` until the confirmation has run (see
//! `reporting::lock_next_to_report`). It then writes one comment from both
//! runs and closes the confirmation with [`close_confirm_job`].

use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::jobs::JobState;
use crate::StoreError;

/// A confirmation job about to be queued for one run of its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConfirmJob<'a> {
    pub parent_job_id: i64,
    /// The parent's current attempt.
    pub parent_attempt: i32,
    /// The merge-base the parent's run compared against; the confirmation
    /// compares the same two commits.
    pub base_sha: &'a str,
    /// An `asv continuous --bench` regular expression that matches exactly
    /// the flagged benchmarks.
    pub bench: &'a str,
    /// asv's `rounds` for every benchmark of the confirmation.
    pub rounds: i32,
    /// The asv machine of the parent's run, the only one that may claim it.
    pub machine: &'a str,
    pub max_attempts: i32,
}

/// A parent run's confirmation job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmJob {
    pub id: i64,
    pub state: JobState,
    pub rounds: Option<i32>,
    pub bench: Option<String>,
    /// The reason the job failed, was cancelled or was superseded.
    pub error: Option<String>,
}

/// Queues the confirmation of a parent's run and returns its id, or `None`
/// when that run already has one. The head, branch, clone URL and
/// installation come from the parent's row.
pub async fn insert_confirm_job(
    executor: impl PgExecutor<'_>,
    job: &NewConfirmJob<'_>,
) -> Result<Option<i64>, StoreError> {
    let base_sha = full_sha(job.base_sha)?;
    // `ON CONFLICT DO NOTHING` without a target covers the partial unique
    // index `jobs_confirm_parent_key`. The other unique indexes apply only
    // to jobs with a pull request number or of another kind.
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url,
                          head_fetch_ref, installation_id, attempt_limit, bench, rounds,
                          required_machine, parent_job_id, parent_attempt)
        SELECT repository_id, 'confirm', head_sha, $3, base_ref, clone_url, head_fetch_ref,
               installation_id, $4, $5, $6, $7, id, $2
        FROM jobs WHERE id = $1
        ON CONFLICT DO NOTHING
        RETURNING id
        "#,
        job.parent_job_id,
        job.parent_attempt,
        base_sha,
        job.max_attempts,
        job.bench,
        job.rounds,
        job.machine,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Returns the confirmation job of a parent's run, if one was queued.
pub async fn confirmation_of(
    executor: impl PgExecutor<'_>,
    parent_job_id: i64,
    parent_attempt: i32,
) -> Result<Option<ConfirmJob>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT id, state, rounds, bench, error FROM jobs
        WHERE kind = 'confirm' AND parent_job_id = $1 AND parent_attempt = $2
        "#,
        parent_job_id,
        parent_attempt,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(ConfirmJob {
            id: row.id,
            state: row.state.parse()?,
            rounds: row.rounds,
            bench: row.bench,
            error: row.error,
        })
    })
    .transpose()
}

/// Marks a confirmation as used by its parent's report: an ingesting job
/// becomes `reported`, and a failed, cancelled or superseded one keeps its
/// state. The caller holds the parent's row lock.
pub async fn close_confirm_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE jobs
        SET state = CASE WHEN state = 'ingesting' THEN 'reported' ELSE state END,
            github_synced = 'completed',
            finished_at = COALESCE(finished_at, now()),
            updated_at = now()
        WHERE id = $1 AND kind = 'confirm'
        "#,
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}
