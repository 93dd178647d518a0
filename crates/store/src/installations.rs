//! GitHub App installations and the repositories each one grants.

use sqlx::{PgConnection, PgExecutor};

use crate::{RepoName, StoreError};

/// Records an installation as present and not suspended, creating its row
/// if needed.
pub async fn upsert_installation(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
    account: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        INSERT INTO installations (id, account) VALUES ($1, $2)
        ON CONFLICT (id) DO UPDATE
        SET account = COALESCE(EXCLUDED.account, installations.account),
            deleted_at = NULL, suspended_at = NULL, updated_at = now()
        "#,
        installation_id,
        account,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records that the App was uninstalled.
pub async fn mark_installation_deleted(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE installations SET deleted_at = now(), updated_at = now() WHERE id = $1",
        installation_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records that GitHub suspended the installation.
pub async fn mark_installation_suspended(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE installations SET suspended_at = now(), updated_at = now() WHERE id = $1",
        installation_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records that the installation grants `repository`, creating the
/// repository's row if needed.
pub async fn add_installation_repository(
    conn: &mut PgConnection,
    installation_id: i64,
    repository: &RepoName,
) -> Result<(), StoreError> {
    let repository_id = crate::catalog::ensure_repository(conn, repository).await?;
    sqlx::query!(
        r#"
        INSERT INTO installation_repositories (installation_id, repository_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        "#,
        installation_id,
        repository_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the installation no longer grants `repository`.
pub async fn remove_installation_repository(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
    repository: &RepoName,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        DELETE FROM installation_repositories
        USING repositories
        WHERE installation_repositories.installation_id = $1
          AND repositories.id = installation_repositories.repository_id
          AND lower(repositories.name) = lower($2)
        "#,
        installation_id,
        repository.as_str(),
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Removes every repository of an installation, as when it is deleted.
pub async fn remove_installation_repositories(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM installation_repositories WHERE installation_id = $1",
        installation_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Returns the names of the repositories an installation grants, sorted.
pub async fn list_installation_repositories(
    executor: impl PgExecutor<'_>,
    installation_id: i64,
) -> Result<Vec<String>, StoreError> {
    let names = sqlx::query_scalar!(
        r#"
        SELECT repositories.name
        FROM installation_repositories JOIN repositories ON repositories.id = installation_repositories.repository_id
        WHERE installation_repositories.installation_id = $1
        ORDER BY lower(repositories.name)
        "#,
        installation_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(names)
}
