//! Releases: recorded by the webhook from a published release or a tag
//! push, resolved to commits by the release worker, and reported once
//! their job has run (see the migration that creates `releases`).

use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::StoreError;

/// The `LISTEN`/`NOTIFY` channel that announces a recorded release. The
/// payload is the release row's id.
pub const RELEASE_RECORDED_CHANNEL: &str = "pitot_release_recorded";

/// A release as the webhook records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease<'a> {
    pub repository_id: i32,
    pub tag: &'a str,
    pub installation_id: Option<i64>,
    pub clone_url: &'a str,
    pub default_branch: &'a str,
    pub prerelease: bool,
    /// The object a tag push set the tag to (a commit, or an annotated tag
    /// object); `None` for a published release.
    pub pushed_sha: Option<&'a str>,
}

/// A release waiting for the worker, locked for its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRelease {
    pub id: i64,
    pub repository_id: i32,
    /// `owner/name`.
    pub repository: String,
    pub tag: String,
    pub installation_id: Option<i64>,
    pub clone_url: String,
    pub default_branch: String,
    pub prerelease: bool,
    /// The object a tag push set the tag to; `None` for a published release.
    pub pushed_sha: Option<String>,
    pub failures: i32,
}

/// The release fields the reporter reads and writes for a release job's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub id: i64,
    pub tag: String,
    pub previous_tag: Option<String>,
    pub default_branch: String,
    pub comment_id: Option<i64>,
    pub issue_number: Option<i64>,
}

/// Records a release and returns its row id, or `None` when the tag was
/// recorded before, from either kind of event: a tag pushed and then
/// published as a release is one row and one report.
pub async fn insert_release(
    executor: impl PgExecutor<'_>,
    release: &NewRelease<'_>,
) -> Result<Option<i64>, StoreError> {
    let pushed_sha = release.pushed_sha.map(full_sha).transpose()?;
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO releases (repository_id, tag, installation_id, clone_url, default_branch, prerelease, pushed_sha)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (repository_id, tag) DO NOTHING
        RETURNING id
        "#,
        release.repository_id,
        release.tag,
        release.installation_id,
        release.clone_url,
        release.default_branch,
        release.prerelease,
        pushed_sha,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Sends the release-recorded notification when the transaction commits.
pub async fn notify_release_recorded(
    executor: impl PgExecutor<'_>,
    release_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        RELEASE_RECORDED_CHANNEL,
        release_id.to_string()
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Locks the oldest pending release that is not waiting for a retry.
pub async fn lock_next_release(
    executor: impl PgExecutor<'_>,
) -> Result<Option<PendingRelease>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT releases.id, releases.repository_id, repositories.name AS repository,
               releases.tag, releases.installation_id, releases.clone_url,
               releases.default_branch, releases.prerelease, releases.pushed_sha,
               releases.failures
        FROM releases JOIN repositories ON repositories.id = releases.repository_id
        WHERE releases.state = 'pending'
          AND (releases.retry_after IS NULL OR releases.retry_after <= now())
        ORDER BY releases.id
        LIMIT 1
        FOR UPDATE OF releases SKIP LOCKED
        "#
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| PendingRelease {
        id: row.id,
        repository_id: row.repository_id,
        repository: row.repository,
        tag: row.tag,
        installation_id: row.installation_id,
        clone_url: row.clone_url,
        default_branch: row.default_branch,
        prerelease: row.prerelease,
        pushed_sha: row.pushed_sha,
        failures: row.failures,
    }))
}

/// The commits a release was resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRelease<'a> {
    pub sha: &'a str,
    /// The previous release's tag and commit; `None` for the first release.
    pub previous: Option<(&'a str, &'a str)>,
    /// The queued job; `None` when there was nothing to compare.
    pub job_id: Option<i64>,
}

/// Records what the worker found: `queued` with a job, else `skipped`.
pub async fn finish_release(
    executor: impl PgExecutor<'_>,
    release_id: i64,
    resolved: &ResolvedRelease<'_>,
) -> Result<(), StoreError> {
    let sha = full_sha(resolved.sha)?;
    let previous_sha = resolved
        .previous
        .map(|(_, sha)| full_sha(sha))
        .transpose()?;
    let state = if resolved.job_id.is_some() {
        "queued"
    } else {
        "skipped"
    };
    sqlx::query!(
        r#"
        UPDATE releases
        SET state = $2, sha = $3, previous_tag = $4, previous_sha = $5, job_id = $6,
            error = NULL, finished_at = now()
        WHERE id = $1
        "#,
        release_id,
        state,
        sha,
        resolved.previous.map(|(tag, _)| tag),
        previous_sha,
        resolved.job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records a failed try: the release waits `retry_in_seconds`, or fails for
/// good when `give_up` is set.
pub async fn record_release_failure(
    executor: impl PgExecutor<'_>,
    release_id: i64,
    error: &str,
    retry_in_seconds: f64,
    give_up: bool,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE releases
        SET failures = failures + 1, error = $2,
            retry_after = now() + make_interval(secs => $3),
            state = CASE WHEN $4 THEN 'failed' ELSE state END,
            finished_at = CASE WHEN $4 THEN now() END
        WHERE id = $1
        "#,
        release_id,
        error,
        retry_in_seconds,
        give_up,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns the release whose job is `job_id`.
pub async fn release_of_job(
    executor: impl PgExecutor<'_>,
    job_id: i64,
) -> Result<Option<ReleaseRecord>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT id, tag, previous_tag, default_branch, comment_id, issue_number
        FROM releases WHERE job_id = $1
        "#,
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| ReleaseRecord {
        id: row.id,
        tag: row.tag,
        previous_tag: row.previous_tag,
        default_branch: row.default_branch,
        comment_id: row.comment_id,
        issue_number: row.issue_number,
    }))
}

/// Stores the commit comment and the regression issue written for a release.
pub async fn record_release_report(
    executor: impl PgExecutor<'_>,
    release_id: i64,
    comment_id: Option<i64>,
    issue_number: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE releases
        SET comment_id = COALESCE($2, comment_id), issue_number = COALESCE($3, issue_number)
        WHERE id = $1
        "#,
        release_id,
        comment_id,
        issue_number,
    )
    .execute(executor)
    .await?;
    Ok(())
}
