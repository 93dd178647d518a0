//! Quarantined benchmarks: a maintainer marks a benchmark noisy or ignored
//! with a reason and an optional expiry, and the reporter stops it from
//! failing the check (see the migration that creates `quarantines`).
//!
//! A quarantine is active while it is not lifted and has not expired. The
//! queries compare `expires_at` with the database's `now()`, so an expired
//! quarantine needs no update. Setting a quarantine lifts the unlifted one
//! it replaces, so the caller runs [`set_quarantine`] in a transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::StoreError;

/// One quarantine of a benchmark, active or from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    pub id: i64,
    /// The full asv benchmark name, without parameters.
    pub benchmark: String,
    /// `noisy` or `ignored`.
    pub kind: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The API token's name, or `github:<login>` for a pull request command.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    /// Whether the quarantine is in force now: not lifted and not expired.
    pub active: bool,
}

/// A quarantine about to be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewQuarantine<'a> {
    pub repository_id: i32,
    pub benchmark: &'a str,
    pub kind: &'a str,
    pub reason: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
}

/// Returns the id and stored spelling of the repository named `repository`
/// (compared case-insensitively), or `None` when it is not stored.
pub async fn find_repository(
    executor: impl PgExecutor<'_>,
    repository: &str,
) -> Result<Option<(i32, String)>, StoreError> {
    let row = sqlx::query!(
        "SELECT id, name FROM repositories WHERE lower(name) = lower($1)",
        repository
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| (row.id, row.name)))
}

/// Sets the benchmark's quarantine, replacing the unlifted one if any, and
/// returns the new row. The replaced row is lifted by the same person.
pub async fn set_quarantine(
    conn: &mut PgConnection,
    quarantine: &NewQuarantine<'_>,
) -> Result<Quarantine, StoreError> {
    // The partial unique index allows one unlifted row per benchmark, so
    // the old row, expired or not, must be lifted before the insert.
    lift_unlifted(
        &mut *conn,
        quarantine.repository_id,
        quarantine.benchmark,
        quarantine.created_by,
    )
    .await?;
    let row = sqlx::query!(
        r#"
        INSERT INTO quarantines (repository_id, benchmark, kind, reason, expires_at, created_by)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING id, created_at
        "#,
        quarantine.repository_id,
        quarantine.benchmark,
        quarantine.kind,
        quarantine.reason,
        quarantine.expires_at,
        quarantine.created_by,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Quarantine {
        id: row.id,
        benchmark: quarantine.benchmark.to_owned(),
        kind: quarantine.kind.to_owned(),
        reason: quarantine.reason.to_owned(),
        expires_at: quarantine.expires_at,
        created_by: quarantine.created_by.to_owned(),
        created_at: row.created_at,
        lifted_at: None,
        lifted_by: None,
        active: true,
    })
}

/// Lifts the benchmark's unlifted row, whether it expired or not.
async fn lift_unlifted(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    benchmark: &str,
    lifted_by: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE quarantines SET lifted_at = now(), lifted_by = $3
        WHERE repository_id = $1 AND benchmark = $2 AND lifted_at IS NULL
        "#,
        repository_id,
        benchmark,
        lifted_by,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Lifts the benchmark's active quarantine and returns it as lifted, or
/// `None` when the benchmark has no active one. An expired quarantine is
/// not active, so lifting it returns `None`.
pub async fn lift_quarantine(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
    benchmark: &str,
    lifted_by: &str,
) -> Result<Option<Quarantine>, StoreError> {
    let quarantine = sqlx::query_as!(
        Quarantine,
        r#"
        UPDATE quarantines SET lifted_at = now(), lifted_by = $3
        WHERE repository_id = $1 AND benchmark = $2 AND lifted_at IS NULL
          AND (expires_at IS NULL OR expires_at > now())
        RETURNING id, benchmark, kind, reason, expires_at, created_by, created_at,
                  lifted_at, lifted_by, false AS "active!"
        "#,
        repository_id,
        benchmark,
        lifted_by,
    )
    .fetch_optional(executor)
    .await?;
    Ok(quarantine)
}

/// Returns the repository's active quarantines, by benchmark name.
pub async fn active_quarantines(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> Result<Vec<Quarantine>, StoreError> {
    let quarantines = sqlx::query_as!(
        Quarantine,
        r#"
        SELECT id, benchmark, kind, reason, expires_at, created_by, created_at,
               lifted_at, lifted_by, true AS "active!"
        FROM quarantines
        WHERE repository_id = $1 AND lifted_at IS NULL
          AND (expires_at IS NULL OR expires_at > now())
        ORDER BY benchmark
        "#,
        repository_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(quarantines)
}

/// Returns every quarantine the repository has had, active, lifted or
/// expired, newest first.
pub async fn quarantine_history(
    executor: impl PgExecutor<'_>,
    repository_id: i32,
) -> Result<Vec<Quarantine>, StoreError> {
    let quarantines = sqlx::query_as!(
        Quarantine,
        r#"
        SELECT id, benchmark, kind, reason, expires_at, created_by, created_at,
               lifted_at, lifted_by,
               (lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS "active!"
        FROM quarantines
        WHERE repository_id = $1
        ORDER BY created_at DESC, id DESC
        "#,
        repository_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(quarantines)
}
