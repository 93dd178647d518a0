//! Jobs that compare two exact commits, outside pull requests: `history`
//! jobs for pushes to the default branch and `release` jobs for published
//! releases. The kinds are described in the migration that adds `kind`.

use sqlx::PgExecutor;

use crate::actions_jobs::Backend;
use crate::commit_sha::full_sha;
use crate::StoreError;

/// The kind of comparison a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A pull request's head against its merge-base with the target branch.
    PullRequest,
    /// A commit pushed to the default branch against the commit before it.
    History,
    /// A release's commit against the previous release's commit.
    Release,
    /// One commit benchmarked against itself on one machine, to measure
    /// its noise (see `crate::calibrations`).
    Calibration,
    /// The benchmarks a pull request job flagged as regressions, run again
    /// with more rounds on the same machine (see `confirm_jobs`).
    Confirm,
}

impl JobKind {
    /// Returns the name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::PullRequest => "pull_request",
            JobKind::History => "history",
            JobKind::Release => "release",
            JobKind::Calibration => "calibration",
            JobKind::Confirm => "confirm",
        }
    }

    /// Parses a stored `kind`; the `jobs_kind_valid` constraint keeps other
    /// values out of the table.
    pub fn parse(value: &str) -> Result<JobKind, StoreError> {
        match value {
            "pull_request" => Ok(JobKind::PullRequest),
            "history" => Ok(JobKind::History),
            "release" => Ok(JobKind::Release),
            "calibration" => Ok(JobKind::Calibration),
            "confirm" => Ok(JobKind::Confirm),
            other => Err(StoreError::Database(sqlx::Error::Decode(
                format!("unknown job kind {other:?}").into(),
            ))),
        }
    }
}

/// A job comparing two exact commits, about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitJob<'a> {
    pub repository_id: i32,
    /// [`JobKind::History`] or [`JobKind::Release`].
    pub kind: JobKind,
    /// The full commit hash to benchmark.
    pub head_sha: &'a str,
    /// The full commit hash to compare it with.
    pub base_sha: &'a str,
    /// The default branch; the agent fetches it first, because it contains
    /// both commits in the usual case.
    pub branch: &'a str,
    pub clone_url: &'a str,
    /// A ref that contains the head, such as `refs/tags/v1.2.0`.
    pub head_fetch_ref: Option<&'a str>,
    pub installation_id: Option<i64>,
    pub max_attempts: i32,
    /// The release's tag, for release jobs.
    pub release_tag: Option<&'a str>,
    /// The runner: an agent, or the repository's Actions workflow, which
    /// is dispatched on `branch`.
    pub backend: Backend,
}

/// Inserts a queued history or release job and returns its id, or `None`
/// when the commit (history) or the tag (release) already has a job.
pub async fn insert_commit_job(
    executor: impl PgExecutor<'_>,
    job: &NewCommitJob<'_>,
) -> Result<Option<i64>, StoreError> {
    let head_sha = full_sha(job.head_sha)?;
    let base_sha = full_sha(job.base_sha)?;
    // `ON CONFLICT DO NOTHING` without a target covers both partial unique
    // indexes, `jobs_history_head_key` and `jobs_release_tag_key`.
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url,
                          head_fetch_ref, installation_id, attempt_limit, release_tag,
                          backend, dispatch_ref)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $5)
        ON CONFLICT DO NOTHING
        RETURNING id
        "#,
        job.repository_id,
        job.kind.as_str(),
        head_sha,
        base_sha,
        job.branch,
        job.clone_url,
        job.head_fetch_ref,
        job.installation_id,
        job.max_attempts,
        job.release_tag,
        job.backend.as_str(),
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Supersedes the oldest queued history jobs of a repository beyond the
/// newest `keep`, and returns their ids. Running jobs are left alone.
pub async fn trim_history_queue(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    keep: i64,
    reason: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        r#"
        UPDATE jobs
        SET state = 'superseded', error = $3, finished_at = now(), updated_at = now()
        WHERE id IN (
            SELECT id FROM jobs
            WHERE repository_id = $1 AND kind = 'history' AND state = 'queued'
            ORDER BY queued_at DESC, id DESC
            OFFSET $2
        )
        RETURNING id
        "#,
        repository_id,
        keep,
        reason,
    )
    .fetch_all(executor)
    .await?;
    Ok(ids)
}

/// Returns whether a history job exists for `head_sha` in any state, or
/// results for it are stored: the nightly worker then leaves it alone.
pub async fn commit_has_history(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    head_sha: &str,
) -> Result<bool, StoreError> {
    let head_sha = full_sha(head_sha)?;
    let found = sqlx::query_scalar!(
        r#"
        SELECT EXISTS (
            SELECT 1 FROM jobs
            WHERE repository_id = $1 AND head_sha = $2 AND kind = 'history'
        ) OR EXISTS (
            SELECT 1 FROM runs JOIN commits ON commits.id = runs.commit_id
            WHERE runs.repository_id = $1 AND commits.sha = $2
        ) AS "found!"
        "#,
        repository_id,
        head_sha,
    )
    .fetch_one(executor)
    .await?;
    Ok(found)
}

/// A history or release job whose results are not yet ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitJobTask {
    pub job_id: i64,
    pub kind: JobKind,
    pub repository_id: i32,
    /// `owner/name`.
    pub repository: String,
    pub head_sha: String,
    pub base_sha: String,
    pub installation_id: Option<i64>,
    /// `Ingesting` or `Failed`.
    pub state: crate::jobs::JobState,
    pub machine: Option<String>,
    pub error: Option<String>,
    pub release_tag: Option<String>,
}

/// Locks the oldest history or release job whose outcome is not handled
/// yet, skipping those in `skip` and those another process holds.
/// Confirmation jobs are left to the reporter of their parent.
pub async fn lock_next_commit_job(
    executor: impl PgExecutor<'_>,
    skip: &[i64],
) -> Result<Option<CommitJobTask>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT jobs.id, jobs.kind, jobs.repository_id, repositories.name AS repository,
               jobs.head_sha, jobs.base_sha AS "base_sha!", jobs.installation_id, jobs.state,
               jobs.machine, jobs.error, jobs.release_tag
        FROM jobs JOIN repositories ON repositories.id = jobs.repository_id
        WHERE jobs.kind <> 'pull_request' AND jobs.kind <> 'confirm'
          AND jobs.github_synced IS DISTINCT FROM 'completed'
          AND jobs.state IN ('ingesting', 'failed')
          AND (jobs.report_after IS NULL OR jobs.report_after <= now())
          AND NOT (jobs.id = ANY($1))
        ORDER BY jobs.updated_at, jobs.id
        LIMIT 1
        FOR UPDATE OF jobs SKIP LOCKED
        "#,
        skip,
    )
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(CommitJobTask {
            job_id: row.id,
            kind: JobKind::parse(&row.kind)?,
            repository_id: row.repository_id,
            repository: row.repository,
            head_sha: row.head_sha,
            base_sha: row.base_sha,
            installation_id: row.installation_id,
            state: row.state.parse()?,
            machine: row.machine,
            error: row.error,
            release_tag: row.release_tag,
        })
    })
    .transpose()
}

/// Returns the GitHub App installation that most recently gained access to
/// the repository and is neither deleted nor suspended, if any.
pub async fn installation_of_repository(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> Result<Option<i64>, StoreError> {
    let id = sqlx::query_scalar!(
        r#"
        SELECT installation_repositories.installation_id
        FROM installation_repositories
        JOIN installations ON installations.id = installation_repositories.installation_id
        WHERE installation_repositories.repository_id = $1
          AND installations.deleted_at IS NULL AND installations.suspended_at IS NULL
        ORDER BY installation_repositories.added_at DESC
        LIMIT 1
        "#,
        repository_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// A reported history job on the way between two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStep {
    pub head_sha: String,
    /// The job's stored summary: the benchmarks that got worse, if any.
    pub summary: Option<String>,
}

/// Returns the reported history jobs that lead from commit `from` to
/// commit `to`, each one's base being the previous one's head, in order.
/// Returns `None` when the stored history does not connect the two, for
/// example because some pushes were not benchmarked.
pub async fn history_between(
    executor: impl PgExecutor<'_> + Copy,
    repository_id: i32,
    from: &str,
    to: &str,
) -> Result<Option<Vec<HistoryStep>>, StoreError> {
    let from = full_sha(from)?;
    let to = full_sha(to)?;
    // The walk follows base -> head edges and stops at `to`; the depth
    // bound keeps a cycle (a branch reset to an older commit) finite.
    let path = sqlx::query_scalar!(
        r#"
        WITH RECURSIVE walk (head_sha, path) AS (
            SELECT head_sha, ARRAY[head_sha]
            FROM jobs
            WHERE repository_id = $1 AND kind = 'history' AND state = 'reported' AND base_sha = $2
            UNION ALL
            SELECT jobs.head_sha, walk.path || jobs.head_sha
            FROM walk JOIN jobs ON jobs.base_sha = walk.head_sha
            WHERE jobs.repository_id = $1 AND jobs.kind = 'history' AND jobs.state = 'reported'
              AND walk.head_sha <> $3 AND cardinality(walk.path) < 1000
        )
        SELECT path AS "path!" FROM walk WHERE head_sha = $3
        ORDER BY cardinality(path)
        LIMIT 1
        "#,
        repository_id,
        from,
        to,
    )
    .fetch_optional(executor)
    .await?;
    let Some(path) = path else {
        return Ok(None);
    };

    let rows = sqlx::query!(
        r#"
        SELECT head_sha, comment_body FROM jobs
        WHERE repository_id = $1 AND kind = 'history' AND head_sha = ANY($2)
        "#,
        repository_id,
        &path,
    )
    .fetch_all(executor)
    .await?;

    let steps = path
        .iter()
        .map(|sha| HistoryStep {
            head_sha: sha.clone(),
            summary: rows
                .iter()
                .find(|row| &row.head_sha == sha)
                .and_then(|row| row.comment_body.clone()),
        })
        .collect();
    Ok(Some(steps))
}
