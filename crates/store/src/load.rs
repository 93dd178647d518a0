//! Rebuilding stored runs as `ResultsFile` values.

use std::collections::{BTreeMap, HashMap};

use pitot_asv::{BenchmarkResult, Outcome, ResultsFile, Stats};
use sqlx::PgConnection;

use crate::catalog::find_repository;
use crate::commit_sha::sha_prefix;
use crate::suite::string_lists;
use crate::{RepoName, Store, StoreError};

/// How many candidates an ambiguous-prefix error lists at most.
const MAX_LISTED_CANDIDATES: i64 = 10;

impl Store {
    /// Returns every run of one commit on a machine, optionally only in one
    /// environment, rebuilt as the results files they came from.
    ///
    /// `commit` is a full sha or a unique prefix of at least 4 digits. Runs
    /// come back sorted by environment name and benchmarks by name; within a
    /// benchmark, parameters and combinations keep the file's order. Two
    /// details are normalized: a combination whose statistics were all absent
    /// reads back as `None`, and a benchmark whose stats or samples were all
    /// `None` reads back with an empty list, as the model allows.
    pub async fn load_commit(
        &self,
        repo: &RepoName,
        machine: &str,
        env: Option<&str>,
        commit: &str,
    ) -> Result<Vec<ResultsFile>, StoreError> {
        let prefix = sha_prefix(commit)?;
        let mut conn = self.pool.acquire().await?;
        let repository_id = find_repository(&mut conn, repo).await?.ok_or_else(|| StoreError::NotFound {
            what: "repository",
            value: repo.to_string(),
        })?;
        let sha = resolve_commit(&mut conn, repository_id, &prefix).await?;

        let mut files = load_runs(&mut conn, repository_id, &sha, machine, env).await?;
        if files.is_empty() {
            let env_part = env.map(|env| format!(" in environment {env}")).unwrap_or_default();
            return Err(StoreError::NotFound {
                what: "run",
                value: format!("commit {sha} on machine {machine}{env_part}"),
            });
        }
        let run_ids: Vec<i64> = files.iter().map(|(id, _)| *id).collect();
        let mut benchmarks = load_benchmarks(&mut conn, &run_ids).await?;
        for (run_id, file) in &mut files {
            file.benchmarks = benchmarks.remove(run_id).unwrap_or_default();
        }
        Ok(files.into_iter().map(|(_, file)| file).collect())
    }
}

/// Returns the one full sha that starts with `prefix`.
async fn resolve_commit(conn: &mut PgConnection, repository_id: i32, prefix: &str) -> Result<String, StoreError> {
    // `sha` has the "C" collation, so this LIKE is a range scan of the
    // unique index. The prefix is checked hex, so it holds no wildcards.
    let mut candidates = sqlx::query_scalar!(
        "SELECT sha FROM commits WHERE repository_id = $1 AND sha LIKE $2 || '%' ORDER BY sha LIMIT $3",
        repository_id,
        prefix,
        MAX_LISTED_CANDIDATES
    )
    .fetch_all(conn)
    .await?;
    match candidates.len() {
        0 => Err(StoreError::NotFound {
            what: "commit",
            value: prefix.to_owned(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => Err(StoreError::AmbiguousCommit {
            prefix: prefix.to_owned(),
            candidates,
        }),
    }
}

async fn load_runs(
    conn: &mut PgConnection,
    repository_id: i32,
    sha: &str,
    machine: &str,
    env: Option<&str>,
) -> Result<Vec<(i64, ResultsFile)>, StoreError> {
    let rows = sqlx::query!(
        "SELECT r.id, r.schema_version, r.python, r.requirements, r.env_vars, r.machine_params,
                r.durations, e.name AS env_name, m.name AS machine, c.sha, c.committed_at
         FROM runs r
         JOIN commits c ON c.id = r.commit_id
         JOIN machines m ON m.id = r.machine_id
         JOIN environments e ON e.id = r.environment_id
         WHERE c.repository_id = $1 AND c.sha = $2 AND m.name = $3
           AND ($4::text IS NULL OR e.name = $4)
         ORDER BY e.name",
        repository_id,
        sha,
        machine,
        env
    )
    .fetch_all(conn)
    .await?;

    let files = rows
        .into_iter()
        .map(|row| {
            let file = ResultsFile {
                schema_version: u32::try_from(row.schema_version).unwrap_or_default(),
                machine: row.machine,
                env_name: row.env_name,
                commit_hash: row.sha,
                date: row.committed_at.map(|t| t.timestamp_millis()),
                python: row.python,
                requirements: serde_json::from_value(row.requirements).unwrap_or_default(),
                env_vars: serde_json::from_value(row.env_vars).unwrap_or_default(),
                machine_params: serde_json::from_value(row.machine_params).unwrap_or_default(),
                durations: finite_durations(row.durations),
                benchmarks: Vec::new(),
            };
            (row.id, file)
        })
        .collect();
    Ok(files)
}

/// Reads `runs.durations`, dropping the entries stored as JSON null (a NaN
/// or infinite duration, which JSON cannot represent).
fn finite_durations(value: serde_json::Value) -> BTreeMap<String, f64> {
    let parsed: BTreeMap<String, Option<f64>> = serde_json::from_value(value).unwrap_or_default();
    parsed.into_iter().filter_map(|(key, seconds)| Some((key, seconds?))).collect()
}

/// Returns each run's benchmarks, sorted by name, with their result rows.
async fn load_benchmarks(
    conn: &mut PgConnection,
    run_ids: &[i64],
) -> Result<HashMap<i64, Vec<BenchmarkResult>>, StoreError> {
    // The inner join leaves out the entries of benchmarks deleted since.
    let headers = sqlx::query!(
        r#"SELECT r.id AS run_id, e.benchmark_id AS "benchmark_id!", b.name, e.params AS "params!",
                  v.version AS "version?", e.started_at, e.duration
           FROM runs r
           CROSS JOIN LATERAL jsonb_to_recordset(r.benchmarks)
               AS e(benchmark_id integer, params jsonb, version_id integer, started_at bigint,
                    duration double precision)
           JOIN benchmarks b ON b.id = e.benchmark_id
           LEFT JOIN benchmark_versions v ON v.id = e.version_id
           WHERE r.id = ANY($1)
           ORDER BY r.id, b.name"#,
        run_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = load_result_rows(conn, run_ids).await?;

    let mut by_run: HashMap<i64, Vec<BenchmarkResult>> = HashMap::new();
    for header in headers {
        let mut benchmark = BenchmarkResult {
            name: header.name,
            params: string_lists(header.params),
            version: header.version,
            started_at: header.started_at,
            duration: header.duration,
            ..BenchmarkResult::default()
        };
        let stored = rows.remove(&(header.run_id, header.benchmark_id)).unwrap_or_default();
        fill_combinations(&mut benchmark, stored);
        by_run.entry(header.run_id).or_default().push(benchmark);
    }
    Ok(by_run)
}

/// One stored combination, already decoded.
#[derive(Default)]
struct StoredCombination {
    outcome: Option<Outcome>,
    stats: Option<Stats>,
    samples: Option<Vec<f64>>,
}

async fn load_result_rows(
    conn: &mut PgConnection,
    run_ids: &[i64],
) -> Result<HashMap<(i64, i32), Vec<StoredCombination>>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT run_id, benchmark_id, combination, outcome::text AS "outcome!", value,
                  ci_99_low, ci_99_high, q_25, q_75, number, repeat, samples
           FROM results
           WHERE run_id = ANY($1)
           ORDER BY run_id, benchmark_id, combination"#,
        run_ids
    )
    .fetch_all(conn)
    .await?;

    let mut grouped: HashMap<(i64, i32), Vec<StoredCombination>> = HashMap::new();
    for row in rows {
        let outcome = match (row.outcome.as_str(), row.value) {
            ("value", Some(value)) => Outcome::Value(value),
            ("skipped", _) => Outcome::Skipped,
            // The table's check constraint ties `value` to the outcome, so
            // this arm is `failed`.
            _ => Outcome::Failed,
        };
        let ci_99 = row.ci_99_low.zip(row.ci_99_high);
        let stats = Stats {
            ci_99,
            q_25: row.q_25,
            q_75: row.q_75,
            number: row.number,
            repeat: row.repeat,
        };
        let slot = grouped.entry((row.run_id, row.benchmark_id)).or_default();
        let index = usize::try_from(row.combination).unwrap_or_default();
        if slot.len() <= index {
            slot.resize_with(index + 1, StoredCombination::default);
        }
        slot[index] = StoredCombination {
            outcome: Some(outcome),
            stats: (stats != Stats::default()).then_some(stats),
            samples: row.samples,
        };
    }
    Ok(grouped)
}

/// Fills outcomes, stats and samples of `benchmark` from its stored rows.
fn fill_combinations(benchmark: &mut BenchmarkResult, stored: Vec<StoredCombination>) {
    let has_stats = stored.iter().any(|c| c.stats.is_some());
    let has_samples = stored.iter().any(|c| c.samples.is_some());
    for combination in stored {
        // Every combination has a row, so a gap would mean rows were deleted
        // by hand; it reads as failed, as asv treats a missing value.
        benchmark.outcomes.push(combination.outcome.unwrap_or(Outcome::Failed));
        if has_stats {
            benchmark.stats.push(combination.stats);
        }
        if has_samples {
            benchmark.samples.push(combination.samples);
        }
    }
}
