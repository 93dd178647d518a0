//! Per pull request state: the trigger label, staleness of the posted
//! result, and the sticky comment.

use sqlx::PgExecutor;

use crate::commit_sha::full_sha;
use crate::StoreError;

/// A pull request as the latest event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestHead<'a> {
    pub repository_id: i32,
    pub number: i64,
    pub head_sha: &'a str,
    pub base_ref: &'a str,
}

/// A stored pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub id: i64,
    pub head_sha: String,
    pub base_ref: String,
    pub labelled: bool,
    pub stale: bool,
    pub comment_id: Option<i64>,
    pub closed: bool,
}

/// Records that the trigger label was added (`labelled`) or removed, with
/// the head the event reported.
pub async fn record_label(
    executor: impl PgExecutor<'_>,
    pull_request: &PullRequestHead<'_>,
    labelled: bool,
) -> Result<(), StoreError> {
    let head_sha = full_sha(pull_request.head_sha)?;
    sqlx::query!(
        r#"
        INSERT INTO pull_requests (repository_id, number, head_sha, base_ref, labelled)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (repository_id, number) DO UPDATE
        SET head_sha = EXCLUDED.head_sha, base_ref = EXCLUDED.base_ref,
            labelled = EXCLUDED.labelled, updated_at = now()
        "#,
        pull_request.repository_id,
        pull_request.number,
        head_sha,
        pull_request.base_ref,
        labelled,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records a push to the pull request: the new head, and that the posted
/// result is now stale. Returns whether the trigger label is on.
pub async fn record_push(
    executor: impl PgExecutor<'_>,
    pull_request: &PullRequestHead<'_>,
) -> Result<bool, StoreError> {
    let head_sha = full_sha(pull_request.head_sha)?;
    let labelled = sqlx::query_scalar!(
        r#"
        INSERT INTO pull_requests (repository_id, number, head_sha, base_ref, stale)
        VALUES ($1, $2, $3, $4, true)
        ON CONFLICT (repository_id, number) DO UPDATE
        SET head_sha = EXCLUDED.head_sha, base_ref = EXCLUDED.base_ref,
            stale = true, updated_at = now()
        RETURNING labelled
        "#,
        pull_request.repository_id,
        pull_request.number,
        head_sha,
        pull_request.base_ref,
    )
    .fetch_one(executor)
    .await?;
    Ok(labelled)
}

/// Records that the pull request was closed (`closed`) or reopened.
pub async fn record_closed(
    executor: impl PgExecutor<'_>,
    pull_request: &PullRequestHead<'_>,
    closed: bool,
) -> Result<(), StoreError> {
    let head_sha = full_sha(pull_request.head_sha)?;
    sqlx::query!(
        r#"
        INSERT INTO pull_requests (repository_id, number, head_sha, base_ref, closed_at)
        VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END)
        ON CONFLICT (repository_id, number) DO UPDATE
        SET head_sha = EXCLUDED.head_sha, base_ref = EXCLUDED.base_ref,
            closed_at = EXCLUDED.closed_at, updated_at = now()
        "#,
        pull_request.repository_id,
        pull_request.number,
        head_sha,
        pull_request.base_ref,
        closed,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns a stored pull request, or `None` when pitot has not seen it.
pub async fn find_pull_request(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    number: i64,
) -> Result<Option<PullRequest>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT id, head_sha, base_ref, labelled, stale, comment_id, closed_at IS NOT NULL AS "closed!"
        FROM pull_requests
        WHERE repository_id = $1 AND number = $2
        "#,
        repository_id,
        number,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| PullRequest {
        id: row.id,
        head_sha: row.head_sha,
        base_ref: row.base_ref,
        labelled: row.labelled,
        stale: row.stale,
        comment_id: row.comment_id,
        closed: row.closed,
    }))
}

/// Returns the id of `repository`, creating its row if needed, so that a
/// webhook for a repository pitot has never stored results for can queue jobs.
pub async fn ensure_repository(
    conn: &mut sqlx::PgConnection,
    repository: &crate::RepoName,
) -> Result<i32, StoreError> {
    crate::catalog::ensure_repository(conn, repository).await
}

/// Returns the id of `repository`, if it has a row.
pub async fn find_repository(
    conn: &mut sqlx::PgConnection,
    repository: &crate::RepoName,
) -> Result<Option<i32>, StoreError> {
    crate::catalog::find_repository(conn, repository).await
}
