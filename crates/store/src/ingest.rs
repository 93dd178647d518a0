//! Ingesting one results file: one transaction, idempotent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pitot_asv::ResultsFile;
use sqlx::PgConnection;

use crate::catalog::{self, EnvironmentFields, SeriesScope};
use crate::copy::{CopyBuffer, ResultRow, COPY_RESULTS};
use crate::prepare::PreparedFile;
use crate::{RepoName, Store, StoreError};

/// What `Store::ingest` did with a results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The run was new, and `values` result rows were written.
    Inserted { values: u64 },
    /// The run existed with a different file, whose rows were replaced by
    /// `values` new ones.
    Replaced { values: u64 },
    /// The run already holds a file with the same SHA-256, so nothing changed.
    Unchanged,
}

/// The ids a run refers to.
struct RunKeys {
    repository_id: i32,
    machine_id: i32,
    environment_id: i32,
    commit_id: i64,
    committed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whether the run row is new, replaces an older file, or already matches.
enum Claim {
    New(i64),
    Replacing(i64),
    Unchanged,
}

impl Store {
    /// Stores one parsed results file as a run, in one transaction.
    ///
    /// A run is identified by repository, machine, environment and commit.
    /// If that run already holds a file with the same `raw_sha256` (the
    /// SHA-256 of the file's bytes) nothing is written; if it holds another
    /// file, the old rows are deleted and the new ones written in the same
    /// transaction. On any error the transaction rolls back, so a run is never
    /// left half-written and an older run being replaced stays as it was.
    #[tracing::instrument(skip_all, fields(repo = %repo, commit = %file.commit_hash, machine = %file.machine))]
    pub async fn ingest(
        &self,
        repo: &RepoName,
        file: &ResultsFile,
        raw_sha256: [u8; 32],
    ) -> Result<IngestOutcome, StoreError> {
        let prepared = PreparedFile::new(file)?;
        let mut tx = self.pool.begin().await?;
        if self.asynchronous_commit {
            // See `Store::with_asynchronous_commit` for why this is safe.
            sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        }

        let keys = ensure_run_keys(&mut tx, repo, &prepared).await?;
        let (run_id, replaced) = match claim_run(&mut tx, &keys, &prepared, &raw_sha256).await? {
            Claim::Unchanged => {
                tx.rollback().await?;
                return Ok(IngestOutcome::Unchanged);
            }
            Claim::New(run_id) => (run_id, false),
            Claim::Replacing(run_id) => (run_id, true),
        };
        write_results(&mut tx, &keys, run_id, &prepared).await?;
        tx.commit().await?;

        let values = prepared.value_count;
        Ok(if replaced {
            IngestOutcome::Replaced { values }
        } else {
            IngestOutcome::Inserted { values }
        })
    }
}

async fn ensure_run_keys(
    conn: &mut PgConnection,
    repo: &RepoName,
    prepared: &PreparedFile<'_>,
) -> Result<RunKeys, StoreError> {
    let file = prepared.file;
    let repository_id = catalog::ensure_repository(conn, repo).await?;
    let machine_id = catalog::ensure_machine(conn, repository_id, &file.machine).await?;
    let env = EnvironmentFields {
        name: &file.env_name,
        python: file.python.as_deref(),
        requirements: &file.requirements,
    };
    let environment_id = catalog::ensure_environment(conn, repository_id, &env).await?;
    let (commit_id, committed_at) =
        catalog::ensure_commit(conn, repository_id, &prepared.sha, prepared.committed_at).await?;
    Ok(RunKeys {
        repository_id,
        machine_id,
        environment_id,
        commit_id,
        committed_at,
    })
}

/// Locks the run row for this identity, creating it or clearing the rows of
/// the file it held before.
async fn claim_run(
    conn: &mut PgConnection,
    keys: &RunKeys,
    prepared: &PreparedFile<'_>,
    raw_sha256: &[u8; 32],
) -> Result<Claim, StoreError> {
    // Two rounds: when a concurrent transaction inserts the same run between
    // the lookup and the insert, the insert does nothing and the second
    // lookup waits for that transaction and then sees its row.
    for _ in 0..2 {
        let existing = sqlx::query!(
            "SELECT id, file_sha256 FROM runs
             WHERE commit_id = $1 AND machine_id = $2 AND environment_id = $3
             FOR UPDATE",
            keys.commit_id,
            keys.machine_id,
            keys.environment_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(run) = existing {
            if run.file_sha256 == raw_sha256 {
                return Ok(Claim::Unchanged);
            }
            clear_run(conn, run.id).await?;
            update_run(conn, run.id, prepared, raw_sha256).await?;
            return Ok(Claim::Replacing(run.id));
        }
        if let Some(run_id) = insert_run(conn, keys, prepared, raw_sha256).await? {
            return Ok(Claim::New(run_id));
        }
    }
    Err(StoreError::NotFound {
        what: "run",
        value: format!("commit {} on machine {}", prepared.sha, prepared.file.machine),
    })
}

/// The run's JSON columns, built the same way for insert and update.
struct RunDocuments {
    durations: serde_json::Value,
    requirements: serde_json::Value,
    env_vars: serde_json::Value,
    machine_params: serde_json::Value,
}

impl RunDocuments {
    fn new(file: &ResultsFile) -> Self {
        // A map of strings or floats always serializes; NaN becomes null.
        RunDocuments {
            durations: serde_json::to_value(&file.durations).unwrap_or_default(),
            requirements: serde_json::to_value(&file.requirements).unwrap_or_default(),
            env_vars: serde_json::to_value(&file.env_vars).unwrap_or_default(),
            machine_params: serde_json::to_value(&file.machine_params).unwrap_or_default(),
        }
    }
}

async fn insert_run(
    conn: &mut PgConnection,
    keys: &RunKeys,
    prepared: &PreparedFile<'_>,
    raw_sha256: &[u8; 32],
) -> Result<Option<i64>, StoreError> {
    let file = prepared.file;
    let documents = RunDocuments::new(file);
    let run_id = sqlx::query_scalar!(
        "INSERT INTO runs (repository_id, machine_id, environment_id, commit_id, schema_version,
                           file_sha256, started_at, ended_at, durations, python, requirements,
                           env_vars, machine_params)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING
         RETURNING id",
        keys.repository_id,
        keys.machine_id,
        keys.environment_id,
        keys.commit_id,
        schema_version(file),
        raw_sha256.as_slice(),
        prepared.started_at,
        prepared.ended_at,
        documents.durations,
        file.python,
        documents.requirements,
        documents.env_vars,
        documents.machine_params
    )
    .fetch_optional(conn)
    .await?;
    Ok(run_id)
}

async fn update_run(
    conn: &mut PgConnection,
    run_id: i64,
    prepared: &PreparedFile<'_>,
    raw_sha256: &[u8; 32],
) -> Result<(), StoreError> {
    let file = prepared.file;
    let documents = RunDocuments::new(file);
    sqlx::query!(
        "UPDATE runs SET schema_version = $2, file_sha256 = $3, started_at = $4, ended_at = $5,
                         durations = $6, python = $7, requirements = $8, env_vars = $9,
                         machine_params = $10, ingested_at = now()
         WHERE id = $1",
        run_id,
        schema_version(file),
        raw_sha256.as_slice(),
        prepared.started_at,
        prepared.ended_at,
        documents.durations,
        file.python,
        documents.requirements,
        documents.env_vars,
        documents.machine_params
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a run's result rows, children first, so no cascade triggers run.
async fn clear_run(conn: &mut PgConnection, run_id: i64) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM results WHERE run_id = $1", run_id).execute(&mut *conn).await?;
    sqlx::query!("DELETE FROM run_benchmarks WHERE run_id = $1", run_id).execute(&mut *conn).await?;
    Ok(())
}

/// Clamps the schema version into the column's type; the table's check
/// constraint rejects anything but 1 and 2.
fn schema_version(file: &ResultsFile) -> i16 {
    i16::try_from(file.schema_version).unwrap_or(i16::MAX)
}

/// Writes the run's benchmarks and result rows.
async fn write_results(
    conn: &mut PgConnection,
    keys: &RunKeys,
    run_id: i64,
    prepared: &PreparedFile<'_>,
) -> Result<(), StoreError> {
    let file = prepared.file;
    let benchmark_ids = ensure_benchmark_ids(conn, keys, file).await?;
    let version_ids = ensure_version_ids(conn, file, &benchmark_ids).await?;
    let series_ids = ensure_series_ids(conn, keys, file, &benchmark_ids).await?;

    insert_run_benchmarks(conn, run_id, prepared, &benchmark_ids, &version_ids).await?;

    let mut buffer = CopyBuffer::new();
    for benchmark in &file.benchmarks {
        let benchmark_id = benchmark_ids[benchmark.name.as_str()];
        let version_id = benchmark.version.as_deref().map(|version| version_ids[&(benchmark_id, version)]);
        for (index, outcome) in benchmark.outcomes.iter().enumerate() {
            let series_id = series_ids[&(benchmark_id, benchmark.combination(index))];
            buffer.push(&ResultRow {
                run_id,
                series_id,
                commit_id: keys.commit_id,
                committed_at: keys.committed_at,
                benchmark_id,
                // `PreparedFile::new` checked that the count fits.
                combination: index as i32,
                version_id,
                outcome: *outcome,
                stats: benchmark.stats.get(index).and_then(Option::as_ref),
                samples: benchmark.samples.get(index).and_then(Option::as_deref),
            });
        }
    }
    let mut copy = conn.copy_in_raw(COPY_RESULTS).await?;
    copy.send(buffer.finish()).await?;
    copy.finish().await?;
    Ok(())
}

async fn ensure_benchmark_ids<'f>(
    conn: &mut PgConnection,
    keys: &RunKeys,
    file: &'f ResultsFile,
) -> Result<HashMap<&'f str, i32>, StoreError> {
    let names: BTreeSet<&str> = file.benchmarks.iter().map(|b| b.name.as_str()).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let ids = catalog::ensure_benchmarks(conn, keys.repository_id, &names).await?;
    Ok(names.into_iter().zip(ids).collect())
}

async fn ensure_version_ids<'f>(
    conn: &mut PgConnection,
    file: &'f ResultsFile,
    benchmark_ids: &HashMap<&str, i32>,
) -> Result<HashMap<(i32, &'f str), i32>, StoreError> {
    let pairs: BTreeSet<(i32, &str)> = file
        .benchmarks
        .iter()
        .filter_map(|b| Some((benchmark_ids[b.name.as_str()], b.version.as_deref()?)))
        .collect();
    let pairs: Vec<(i32, &str)> = pairs.into_iter().collect();
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = catalog::ensure_versions(conn, &pairs).await?;
    Ok(pairs.into_iter().zip(ids).collect())
}

async fn ensure_series_ids<'f>(
    conn: &mut PgConnection,
    keys: &RunKeys,
    file: &'f ResultsFile,
    benchmark_ids: &HashMap<&str, i32>,
) -> Result<HashMap<(i32, Vec<&'f str>), i64>, StoreError> {
    // A BTreeMap both removes duplicate combinations (a parameter listing
    // the same value twice) and sorts the keys for the insert.
    let mut keys_sorted: BTreeMap<(i32, Vec<&str>), i64> = BTreeMap::new();
    for benchmark in &file.benchmarks {
        let benchmark_id = benchmark_ids[benchmark.name.as_str()];
        for index in 0..benchmark.outcomes.len() {
            keys_sorted.insert((benchmark_id, benchmark.combination(index)), 0);
        }
    }
    let series_keys: Vec<(i32, Vec<&str>)> = keys_sorted.into_keys().collect();
    if series_keys.is_empty() {
        return Ok(HashMap::new());
    }
    let scope = SeriesScope {
        machine_id: keys.machine_id,
        environment_id: keys.environment_id,
    };
    let ids = catalog::ensure_series(conn, &scope, &series_keys).await?;
    Ok(series_keys.into_iter().zip(ids).collect())
}

async fn insert_run_benchmarks(
    conn: &mut PgConnection,
    run_id: i64,
    prepared: &PreparedFile<'_>,
    benchmark_ids: &HashMap<&str, i32>,
    version_ids: &HashMap<(i32, &str), i32>,
) -> Result<(), StoreError> {
    let file = prepared.file;
    let count = file.benchmarks.len();
    let mut ids = Vec::with_capacity(count);
    let mut params = Vec::with_capacity(count);
    let mut versions = Vec::with_capacity(count);
    let mut durations = Vec::with_capacity(count);
    for benchmark in &file.benchmarks {
        let benchmark_id = benchmark_ids[benchmark.name.as_str()];
        ids.push(benchmark_id);
        params.push(serde_json::json!(benchmark.params));
        versions.push(benchmark.version.as_deref().map(|version| version_ids[&(benchmark_id, version)]));
        durations.push(benchmark.duration);
    }
    sqlx::query!(
        "INSERT INTO run_benchmarks (run_id, benchmark_id, params, version_id, started_at, duration)
         SELECT $1, * FROM UNNEST($2::int[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::float8[])",
        run_id,
        &ids,
        &params,
        &versions as &[Option<i32>],
        &prepared.benchmark_starts as &[Option<chrono::DateTime<chrono::Utc>>],
        &durations as &[Option<f64>]
    )
    .execute(conn)
    .await?;
    Ok(())
}
