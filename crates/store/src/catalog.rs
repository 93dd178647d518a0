//! Get-or-create statements for the rows that runs refer to: repositories,
//! machines, environments, commits, benchmarks, versions and series.
//!
//! Each lookup runs first and the insert only when rows are missing, with
//! `ON CONFLICT DO NOTHING` followed by a second lookup. That order matters
//! for concurrent ingests: `DO NOTHING` never locks an existing row (an
//! `ON CONFLICT DO UPDATE` would, and would serialize every ingest of the
//! same machine), and the second lookup runs as a new statement, so under
//! READ COMMITTED it sees a row that another transaction committed while
//! this one waited. Batch inserts are sorted by key, so two transactions
//! take their locks in the same order and cannot deadlock on each other.
//! Commits, looked up for every new run, save a round trip: the lookup and
//! the insert are one statement, and only the rows it misses are looked up
//! again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::catalog_cache::StoredEnvironment;
use crate::{RepoName, StoreError};

/// Returns the id of `repo`, creating the row if needed.
pub(crate) async fn ensure_repository(conn: &mut PgConnection, repo: &RepoName) -> Result<i32, StoreError> {
    if let Some(id) = find_repository(conn, repo).await? {
        return Ok(id);
    }
    sqlx::query!("INSERT INTO repositories (name) VALUES ($1) ON CONFLICT DO NOTHING", repo.as_str())
        .execute(&mut *conn)
        .await?;
    find_repository(conn, repo).await?.ok_or_else(|| missing("repository", repo.as_str()))
}

/// Returns the id of `repo`, if it has a row.
pub(crate) async fn find_repository(conn: &mut PgConnection, repo: &RepoName) -> Result<Option<i32>, StoreError> {
    let id = sqlx::query_scalar!("SELECT id FROM repositories WHERE lower(name) = lower($1)", repo.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// Returns the id of the machine `name`, creating it with no info if needed.
pub(crate) async fn ensure_machine(conn: &mut PgConnection, repository_id: i32, name: &str) -> Result<i32, StoreError> {
    if let Some(id) = find_machine(conn, repository_id, name).await? {
        return Ok(id);
    }
    sqlx::query!(
        "INSERT INTO machines (repository_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        repository_id,
        name
    )
    .execute(&mut *conn)
    .await?;
    find_machine(conn, repository_id, name).await?.ok_or_else(|| missing("machine", name))
}

/// Returns the id of the machine `name`, if it has a row.
pub(crate) async fn find_machine(conn: &mut PgConnection, repository_id: i32, name: &str) -> Result<Option<i32>, StoreError> {
    let id = sqlx::query_scalar!("SELECT id FROM machines WHERE repository_id = $1 AND name = $2", repository_id, name)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// The description of an environment that a results file gives.
pub(crate) struct EnvironmentFields<'a> {
    pub name: &'a str,
    pub python: Option<&'a str>,
    pub requirements: &'a BTreeMap<String, String>,
}

/// Returns an environment's row as stored after the call, creating it when
/// missing. With `refresh`, a Python version and requirements that differ
/// from the file's are replaced by the file's; without it they stay.
pub(crate) async fn ensure_environment(
    conn: &mut PgConnection,
    repository_id: i32,
    env: &EnvironmentFields<'_>,
    refresh: bool,
) -> Result<StoredEnvironment, StoreError> {
    let requirements = serde_json::to_value(env.requirements).unwrap_or_default();
    for _ in 0..2 {
        let existing = sqlx::query!(
            "SELECT id, python, requirements FROM environments WHERE repository_id = $1 AND name = $2",
            repository_id,
            env.name
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = existing {
            // Updating only on a difference keeps the common case free of row
            // locks, which concurrent ingests of the same environment would
            // otherwise wait on.
            let differs = row.python.as_deref() != env.python || row.requirements != requirements;
            if !differs || !refresh {
                return Ok(StoredEnvironment {
                    id: row.id,
                    python: row.python,
                    requirements: row.requirements,
                });
            }
            sqlx::query!(
                "UPDATE environments SET python = $2, requirements = $3 WHERE id = $1",
                row.id,
                env.python,
                requirements
            )
            .execute(&mut *conn)
            .await?;
            return Ok(StoredEnvironment {
                id: row.id,
                python: env.python.map(str::to_owned),
                requirements,
            });
        }
        sqlx::query!(
            "INSERT INTO environments (repository_id, name, python, requirements) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            repository_id,
            env.name,
            env.python,
            requirements
        )
        .execute(&mut *conn)
        .await?;
    }
    Err(missing("environment", env.name))
}

/// A commit row's id and date.
pub(crate) type StoredCommit = (i64, Option<DateTime<Utc>>);

/// Returns the ids and dates of the commits `commits` (sorted, distinct
/// shas, each with the date a results file gives), in the same order,
/// creating the missing ones.
///
/// A commit's date is set once: when a later file gives a different date for
/// the same sha the first one stays, because asv's `date` is the commit's own
/// date and cannot change. A commit first stored without a date gets the
/// first one a file supplies, and its existing results are updated to match.
pub(crate) async fn ensure_commits(
    conn: &mut PgConnection,
    repository_id: i32,
    commits: &[(&str, Option<DateTime<Utc>>)],
) -> Result<Vec<StoredCommit>, StoreError> {
    let mut stored: Vec<Option<StoredCommit>> = vec![None; commits.len()];
    for _ in 0..2 {
        let missing: Vec<usize> = (0..commits.len()).filter(|&i| stored[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        let shas: Vec<&str> = missing.iter().map(|&i| commits[i].0).collect();
        let dates: Vec<Option<DateTime<Utc>>> = missing.iter().map(|&i| commits[i].1).collect();
        for (position, id, committed_at) in find_or_insert_commits(conn, repository_id, &shas, &dates).await? {
            // ORDINALITY counts from 1.
            stored[missing[position as usize - 1]] = Some((id, committed_at));
        }
    }

    let mut ids = Vec::with_capacity(commits.len());
    for (&(sha, committed_at), row) in commits.iter().zip(stored) {
        let (id, stored_date) = row.ok_or_else(|| missing("commit", sha))?;
        if stored_date.is_none() && committed_at.is_some() {
            set_commit_date(conn, id, committed_at).await?;
            ids.push((id, committed_at));
        } else {
            ids.push((id, stored_date));
        }
    }
    Ok(ids)
}

/// Looks up the commits and inserts the missing ones in one round trip.
/// Returns `(position in shas, id, date)` per row found or inserted.
///
/// Both parts use the statement's snapshot. A commit that a concurrent
/// transaction inserts and commits in between is therefore neither found nor
/// inserted, and `ensure_commits` runs the statement again for it.
async fn find_or_insert_commits(
    conn: &mut PgConnection,
    repository_id: i32,
    shas: &[&str],
    dates: &[Option<DateTime<Utc>>],
) -> Result<Vec<(i64, i64, Option<DateTime<Utc>>)>, StoreError> {
    let rows = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM UNNEST($2::text[], $3::timestamptz[]) WITH ORDINALITY AS input(sha, committed_at, position)
         ), existing AS (
             SELECT input.position, commits.id, commits.committed_at
             FROM input JOIN commits ON commits.repository_id = $1 AND commits.sha = input.sha
         ), inserted AS (
             INSERT INTO commits (repository_id, sha, committed_at)
             SELECT $1, sha, committed_at FROM input
             WHERE position NOT IN (SELECT position FROM existing)
             ORDER BY sha
             ON CONFLICT DO NOTHING
             RETURNING id, sha, committed_at
         )
         SELECT position, id, committed_at FROM existing
         UNION ALL
         SELECT input.position, inserted.id, inserted.committed_at
         FROM inserted JOIN input ON input.sha = inserted.sha",
    )
    .bind(repository_id)
    .bind(shas)
    .bind(dates)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

async fn set_commit_date(
    conn: &mut PgConnection,
    commit_id: i64,
    committed_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query!("UPDATE commits SET committed_at = $2 WHERE id = $1", commit_id, committed_at)
        .execute(&mut *conn)
        .await?;
    // The lookup goes through runs so that it uses the results primary key
    // (run first) instead of scanning the table.
    sqlx::query!(
        "UPDATE results SET committed_at = $2 WHERE run_id IN (SELECT id FROM runs WHERE commit_id = $1)",
        commit_id,
        committed_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Returns the ids of the benchmarks `names` (sorted, distinct), in the same
/// order, creating rows with unknown type and unit for new names.
pub(crate) async fn ensure_benchmarks(
    conn: &mut PgConnection,
    repository_id: i32,
    names: &[&str],
) -> Result<Vec<i32>, StoreError> {
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let ids = find_benchmarks(conn, repository_id, &names).await?;
    if ids.len() == names.len() {
        return Ok(ids);
    }
    sqlx::query!(
        "INSERT INTO benchmarks (repository_id, name)
         SELECT $1, name FROM UNNEST($2::text[]) AS input(name) ORDER BY name
         ON CONFLICT DO NOTHING",
        repository_id,
        &names
    )
    .execute(&mut *conn)
    .await?;
    let ids = find_benchmarks(conn, repository_id, &names).await?;
    if ids.len() != names.len() {
        return Err(missing("benchmark", &names.join(", ")));
    }
    Ok(ids)
}

async fn find_benchmarks(conn: &mut PgConnection, repository_id: i32, names: &[String]) -> Result<Vec<i32>, StoreError> {
    let ids = sqlx::query_scalar!(
        "SELECT b.id FROM UNNEST($2::text[]) WITH ORDINALITY AS input(name, position)
         JOIN benchmarks b ON b.repository_id = $1 AND b.name = input.name
         ORDER BY input.position",
        repository_id,
        names
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// Returns the ids of `(benchmark id, version)` pairs (sorted, distinct), in
/// the same order, creating the missing ones.
pub(crate) async fn ensure_versions(
    conn: &mut PgConnection,
    pairs: &[(i32, &str)],
) -> Result<Vec<i32>, StoreError> {
    let benchmark_ids: Vec<i32> = pairs.iter().map(|(id, _)| *id).collect();
    let versions: Vec<String> = pairs.iter().map(|(_, version)| (*version).to_owned()).collect();
    let ids = find_versions(conn, &benchmark_ids, &versions).await?;
    if ids.len() == pairs.len() {
        return Ok(ids);
    }
    sqlx::query!(
        "INSERT INTO benchmark_versions (benchmark_id, version)
         SELECT * FROM UNNEST($1::int[], $2::text[]) AS input(benchmark_id, version)
         ORDER BY benchmark_id, version
         ON CONFLICT DO NOTHING",
        &benchmark_ids,
        &versions
    )
    .execute(&mut *conn)
    .await?;
    let ids = find_versions(conn, &benchmark_ids, &versions).await?;
    if ids.len() != pairs.len() {
        return Err(missing("benchmark version", &versions.join(", ")));
    }
    Ok(ids)
}

async fn find_versions(conn: &mut PgConnection, benchmark_ids: &[i32], versions: &[String]) -> Result<Vec<i32>, StoreError> {
    let ids = sqlx::query_scalar!(
        "SELECT v.id FROM UNNEST($1::int[], $2::text[]) WITH ORDINALITY AS input(benchmark_id, version, position)
         JOIN benchmark_versions v ON v.benchmark_id = input.benchmark_id AND v.version = input.version
         ORDER BY input.position",
        benchmark_ids,
        versions
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// The machine and environment shared by all series of one run.
pub(crate) struct SeriesScope {
    pub machine_id: i32,
    pub environment_id: i32,
}

/// Returns the ids of the series `(benchmark id, parameter values)` (sorted,
/// distinct) in `scope`, in the same order, creating the missing ones.
///
/// Parameter values travel as JSON arrays because a Postgres array of arrays
/// must be rectangular and combinations of different benchmarks differ in
/// length.
pub(crate) async fn ensure_series(
    conn: &mut PgConnection,
    scope: &SeriesScope,
    keys: &[(i32, Vec<&str>)],
) -> Result<Vec<i64>, StoreError> {
    let benchmark_ids: Vec<i32> = keys.iter().map(|(id, _)| *id).collect();
    let params: Vec<serde_json::Value> = keys.iter().map(|(_, values)| serde_json::json!(values)).collect();
    let ids = find_series(conn, scope, &benchmark_ids, &params).await?;
    if ids.len() == keys.len() {
        return Ok(ids);
    }
    sqlx::query!(
        "INSERT INTO series (benchmark_id, machine_id, environment_id, params)
         SELECT input.benchmark_id, $3, $4,
                ARRAY(SELECT value FROM jsonb_array_elements_text(input.params) WITH ORDINALITY
                      AS element(value, position) ORDER BY position)
         FROM UNNEST($1::int[], $2::jsonb[]) AS input(benchmark_id, params)
         ORDER BY 1, 4
         ON CONFLICT DO NOTHING",
        &benchmark_ids,
        &params,
        scope.machine_id,
        scope.environment_id
    )
    .execute(&mut *conn)
    .await?;
    let ids = find_series(conn, scope, &benchmark_ids, &params).await?;
    if ids.len() != keys.len() {
        return Err(missing("series", &format!("{} combinations", keys.len())));
    }
    Ok(ids)
}

async fn find_series(
    conn: &mut PgConnection,
    scope: &SeriesScope,
    benchmark_ids: &[i32],
    params: &[serde_json::Value],
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar!(
        "SELECT s.id
         FROM UNNEST($1::int[], $2::jsonb[]) WITH ORDINALITY AS input(benchmark_id, params, position)
         JOIN series s ON s.benchmark_id = input.benchmark_id
             AND s.machine_id = $3 AND s.environment_id = $4
             AND s.params = ARRAY(SELECT value FROM jsonb_array_elements_text(input.params) WITH ORDINALITY
                                  AS element(value, position) ORDER BY position)
         ORDER BY input.position",
        benchmark_ids,
        params,
        scope.machine_id,
        scope.environment_id
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// The error for a row that an insert should have just created; it means
/// another session deleted it in between.
fn missing(what: &'static str, value: &str) -> StoreError {
    StoreError::NotFound {
        what,
        value: value.to_owned(),
    }
}
