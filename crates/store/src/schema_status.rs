//! Checking that the database has every migration of this build, for the
//! server's readiness check and `pitot check-config`.

use sqlx::PgExecutor;

use crate::StoreError;

/// PostgreSQL's error code for a missing table (`undefined_table`).
const UNDEFINED_TABLE: &str = "42P01";

/// A migration of this build that the database lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingMigration {
    pub version: i64,
    pub description: String,
}

/// Returns the migrations of this build that the database has not applied
/// successfully, oldest first; all of them when it has none.
pub async fn missing_migrations(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<MissingMigration>, StoreError> {
    let applied = applied_versions(executor).await?;
    let missing = sqlx::migrate!("../../migrations")
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .filter(|migration| !applied.contains(&migration.version))
        .map(|migration| MissingMigration {
            version: migration.version,
            description: migration.description.to_string(),
        })
        .collect();
    Ok(missing)
}

/// Returns the versions the database has applied that this build does not
/// contain, oldest first: a newer pitot migrated it, and this build's
/// migrator would refuse to run.
pub async fn unknown_migrations(executor: impl PgExecutor<'_>) -> Result<Vec<i64>, StoreError> {
    let applied = applied_versions(executor).await?;
    let migrator = sqlx::migrate!("../../migrations");
    let unknown = applied
        .into_iter()
        .filter(|version| !migrator.iter().any(|migration| migration.version == *version))
        .collect();
    Ok(unknown)
}

/// Returns the versions applied successfully, oldest first; none when the
/// migrator has never run.
async fn applied_versions(executor: impl PgExecutor<'_>) -> Result<Vec<i64>, StoreError> {
    // Unchecked on purpose: `_sqlx_migrations` is created by the migrator
    // at run time, so the database that `.sqlx/` is prepared against (which
    // applies the files with psql) does not have it.
    let query = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    match sqlx::query_scalar(query).fetch_all(executor).await {
        Ok(versions) => Ok(versions),
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(UNDEFINED_TABLE) => {
            Ok(Vec::new())
        }
        Err(error) => Err(error.into()),
    }
}
