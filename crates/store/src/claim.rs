//! Claiming the run row of each file in a transaction: locking the run that
//! an identity already has, or inserting it, and clearing the rows of a file
//! that is being replaced.

use chrono::{DateTime, Utc};
use pitot_asv::ResultsFile;
use sqlx::PgConnection;

use crate::ingest::{ExistingRuns, Pending};
use crate::keys::RunKeys;
use crate::prepare::PreparedFile;
use crate::StoreError;

/// The state of one file's run once claimed.
pub(crate) enum Claim {
    New(i64),
    Replacing(i64),
    Unchanged,
    /// The run was stored from another file, which stays.
    Kept,
}

/// Locks or creates the run row of every file and clears the rows of files
/// being replaced. A run stored from another file is replaced only with
/// [`ExistingRuns::Replace`]. Returns one claim per file, in order.
pub(crate) async fn claim_runs(
    conn: &mut PgConnection,
    keys: &[RunKeys],
    files: &[Pending<'_>],
    existing: ExistingRuns,
) -> Result<Vec<Claim>, StoreError> {
    let mut claimed: Vec<Option<(i64, Vec<u8>, bool)>> = vec![None; files.len()];
    // Two rounds. When a concurrent transaction inserts one of these runs
    // after the statement's snapshot was taken, the insert skips it and the
    // lookup misses it. The second round waits for that transaction and then
    // finds its row.
    for _ in 0..2 {
        let missing: Vec<usize> = (0..files.len()).filter(|&i| claimed[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        for (position, run) in lock_or_insert_runs(conn, keys, files, &missing).await? {
            claimed[missing[position]] = Some(run);
        }
    }

    let mut claims = Vec::with_capacity(files.len());
    for (file, run) in files.iter().zip(claimed) {
        let Some((run_id, stored_sha256, inserted)) = run else {
            return Err(StoreError::NotFound {
                what: "run",
                value: format!("commit {} on machine {}", file.prepared.sha, file.prepared.file.machine),
            });
        };
        let claim = if inserted {
            Claim::New(run_id)
        } else if stored_sha256 == file.raw_sha256 {
            Claim::Unchanged
        } else if existing == ExistingRuns::Keep {
            Claim::Kept
        } else {
            clear_run(conn, run_id).await?;
            update_run(conn, run_id, &file.prepared, &file.raw_sha256).await?;
            Claim::Replacing(run_id)
        };
        claims.push(claim);
    }
    Ok(claims)
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

/// Locks the runs of `files[selected]`, inserting those that do not exist,
/// in one statement. Returns `(position in selected, (run id, stored file
/// hash, inserted))` for every run it locked or inserted; a run that a
/// concurrent transaction inserted meanwhile is missing.
async fn lock_or_insert_runs(
    conn: &mut PgConnection,
    keys: &[RunKeys],
    files: &[Pending<'_>],
    selected: &[usize],
) -> Result<Vec<(usize, (i64, Vec<u8>, bool))>, StoreError> {
    let mut columns = RunColumns::default();
    for &i in selected {
        columns.push(&keys[i], &files[i]);
    }
    // Locks are taken in id order and inserts made in key order, so two
    // transactions that claim the same runs take their locks in the same
    // order.
    let rows: Vec<(i64, i64, Vec<u8>, bool)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM UNNEST($1::int[], $2::int[], $3::int[], $4::bigint[], $5::smallint[],
                                  $6::bytea[], $7::timestamptz[], $8::timestamptz[], $9::jsonb[],
                                  $10::text[], $11::jsonb[], $12::jsonb[], $13::jsonb[])
                 WITH ORDINALITY AS input(repository_id, machine_id, environment_id, commit_id,
                                          schema_version, file_sha256, started_at, ended_at,
                                          durations, python, requirements, env_vars,
                                          machine_params, position)
         ), existing AS (
             SELECT input.position, runs.id, runs.file_sha256
             FROM input JOIN runs USING (commit_id, machine_id, environment_id)
             ORDER BY runs.id
             FOR UPDATE OF runs
         ), inserted AS (
             INSERT INTO runs (repository_id, machine_id, environment_id, commit_id, schema_version,
                               file_sha256, started_at, ended_at, durations, python, requirements,
                               env_vars, machine_params)
             SELECT repository_id, machine_id, environment_id, commit_id, schema_version,
                    file_sha256, started_at, ended_at, durations, python, requirements,
                    env_vars, machine_params
             FROM input
             WHERE position NOT IN (SELECT position FROM existing)
             ORDER BY commit_id, machine_id, environment_id
             ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING
             RETURNING id, commit_id, machine_id, environment_id, file_sha256
         )
         SELECT position, id, file_sha256, false FROM existing
         UNION ALL
         SELECT input.position, inserted.id, inserted.file_sha256, true
         FROM inserted JOIN input USING (commit_id, machine_id, environment_id)",
    )
    .bind(&columns.repository_ids)
    .bind(&columns.machine_ids)
    .bind(&columns.environment_ids)
    .bind(&columns.commit_ids)
    .bind(&columns.schema_versions)
    .bind(&columns.file_sha256s)
    .bind(&columns.started_ats)
    .bind(&columns.ended_ats)
    .bind(&columns.durations)
    .bind(&columns.pythons)
    .bind(&columns.requirements)
    .bind(&columns.env_vars)
    .bind(&columns.machine_params)
    .fetch_all(conn)
    .await?;

    // ORDINALITY counts from 1.
    let claimed = rows
        .into_iter()
        .map(|(position, id, sha256, inserted)| ((position - 1) as usize, (id, sha256, inserted)))
        .collect();
    Ok(claimed)
}

/// The columns of `runs` for several files, as arrays for `UNNEST`.
#[derive(Default)]
struct RunColumns {
    repository_ids: Vec<i32>,
    machine_ids: Vec<i32>,
    environment_ids: Vec<i32>,
    commit_ids: Vec<i64>,
    schema_versions: Vec<i16>,
    file_sha256s: Vec<Vec<u8>>,
    started_ats: Vec<Option<DateTime<Utc>>>,
    ended_ats: Vec<Option<DateTime<Utc>>>,
    durations: Vec<serde_json::Value>,
    pythons: Vec<Option<String>>,
    requirements: Vec<serde_json::Value>,
    env_vars: Vec<serde_json::Value>,
    machine_params: Vec<serde_json::Value>,
}

impl RunColumns {
    fn push(&mut self, keys: &RunKeys, pending: &Pending<'_>) {
        let prepared = &pending.prepared;
        let file = prepared.file;
        let documents = RunDocuments::new(file);
        self.repository_ids.push(keys.repository_id);
        self.machine_ids.push(keys.machine_id);
        self.environment_ids.push(keys.environment_id);
        self.commit_ids.push(keys.commit_id);
        self.schema_versions.push(schema_version(file));
        self.file_sha256s.push(pending.raw_sha256.to_vec());
        self.started_ats.push(prepared.started_at);
        self.ended_ats.push(prepared.ended_at);
        self.durations.push(documents.durations);
        self.pythons.push(file.python.clone());
        self.requirements.push(documents.requirements);
        self.env_vars.push(documents.env_vars);
        self.machine_params.push(documents.machine_params);
    }
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

/// Deletes the result rows of the file a run held before. Its benchmark
/// entries are overwritten by `benchmark_entries::store` in the same
/// transaction.
async fn clear_run(conn: &mut PgConnection, run_id: i64) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM results WHERE run_id = $1", run_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Clamps the schema version into the column's type; the table's check
/// constraint rejects anything but 1 and 2.
fn schema_version(file: &ResultsFile) -> i16 {
    i16::try_from(file.schema_version).unwrap_or(i16::MAX)
}
