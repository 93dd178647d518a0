//! Checking that the database has every migration of this build, for the
//! server's readiness check.

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
    // Unchecked on purpose: `_sqlx_migrations` is created by the migrator
    // at run time, so the database that `.sqlx/` is prepared against (which
    // applies the files with psql) does not have it.
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(executor)
            .await
        {
            Ok(versions) => versions,
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some(UNDEFINED_TABLE) =>
            {
                Vec::new()
            }
            Err(error) => return Err(error.into()),
        };
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
