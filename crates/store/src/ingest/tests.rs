//! `Store::ingest_batch`, `Store::ingest_all_or_nothing`, the catalog cache
//! and the delete triggers that replaced the foreign keys of `results`.
//!
//! Unit tests rather than tests under `tests/`, because they also check
//! the cache's contents.

use pitot_asv::{BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile};
use sqlx::PgPool;

use crate::{ExistingRuns, IngestOutcome, RepoName, Store, StoreError};

fn repo() -> RepoName {
    "o/r".parse().expect("valid repository name")
}

/// Builds a results file for commit `seed` on machine `m1` in `env`.
fn results_file(seed: u64, env: &str, benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
    ResultsFile {
        schema_version: 2,
        machine: "m1".into(),
        env_name: env.into(),
        commit_hash: format!("{seed:040x}"),
        date: Some(1_700_000_000_000),
        python: Some("3.12".into()),
        benchmarks,
        ..ResultsFile::default()
    }
}

fn plain(name: &str, value: f64) -> BenchmarkResult {
    BenchmarkResult {
        name: name.into(),
        outcomes: vec![Outcome::Value(value)],
        version: Some(format!("{name}-v1")),
        ..BenchmarkResult::default()
    }
}

/// Builds a benchmark whose parameter value contains a NUL byte, which
/// PostgreSQL rejects in text only once the series insert reaches it.
fn rejected_by_server(name: &str) -> BenchmarkResult {
    BenchmarkResult {
        params: vec![vec!["'bad\0'".into()]],
        ..plain(name, 1.0)
    }
}

/// The `FROM` list for [`count`] whose rows are the benchmark entries of all
/// runs (`runs.benchmarks`).
const BENCHMARK_ENTRIES: &str = "runs, jsonb_array_elements(runs.benchmarks) AS entry";

async fn count(pool: &PgPool, table: &str) -> i64 {
    // The table name comes from the test itself, never from input.
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

async fn ingest_all(store: &Store, files: &[ResultsFile]) -> Vec<Result<IngestOutcome, StoreError>> {
    let batch: Vec<(&ResultsFile, [u8; 32])> = files
        .iter()
        .enumerate()
        .map(|(index, file)| (file, [index as u8; 32]))
        .collect();
    store.ingest_batch(&repo(), &batch).await
}

#[sqlx::test(migrations = "../../migrations")]
async fn batch_stores_every_file(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let files = [
        results_file(1, "py3.11", vec![plain("b.time_a", 1.0), plain("b.time_b", 2.0)]),
        results_file(1, "py3.12", vec![plain("b.time_a", 3.0)]),
        results_file(2, "py3.12", vec![plain("b.time_a", 4.0)]),
    ];

    let outcomes = ingest_all(&store, &files).await;

    let outcomes: Vec<IngestOutcome> = outcomes.into_iter().map(|outcome| outcome.expect("ingest")).collect();
    assert_eq!(
        outcomes,
        [
            IngestOutcome::Inserted { values: 2 },
            IngestOutcome::Inserted { values: 1 },
            IngestOutcome::Inserted { values: 1 },
        ]
    );
    assert_eq!(count(&pool, "runs").await, 3);
    assert_eq!(count(&pool, "commits").await, 2);
    assert_eq!(count(&pool, BENCHMARK_ENTRIES).await, 4);
    assert_eq!(count(&pool, "results").await, 4);
    assert_eq!(count(&pool, "series").await, 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn batch_again_is_unchanged(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];
    ingest_all(&store, &files).await;

    let outcomes = ingest_all(&store, &files).await;

    for outcome in outcomes {
        assert_eq!(outcome.expect("second ingest"), IngestOutcome::Unchanged);
    }
    assert_eq!(count(&pool, "results").await, 2);
}

/// The deliberate failure on the batch path: the server rejects one file
/// mid-way, and the others must still be stored while that one leaves
/// nothing behind.
#[sqlx::test(migrations = "../../migrations")]
async fn batch_failure_stores_the_other_files(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(
            2,
            "py3.12",
            vec![plain("b.time_a", 2.0), rejected_by_server("b.time_bad")],
        ),
        results_file(3, "py3.12", vec![plain("b.time_a", 3.0)]),
    ];

    let outcomes = ingest_all(&store, &files).await;

    assert!(
        matches!(outcomes[0], Ok(IngestOutcome::Inserted { values: 1 })),
        "{:?}",
        outcomes[0]
    );
    assert!(matches!(outcomes[1], Err(StoreError::Database(_))), "{:?}", outcomes[1]);
    assert!(
        matches!(outcomes[2], Ok(IngestOutcome::Inserted { values: 1 })),
        "{:?}",
        outcomes[2]
    );
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results ORDER BY value")
        .fetch_all(&pool)
        .await
        .expect("values");
    assert_eq!(values, [1.0, 3.0]);
    assert_eq!(count(&pool, "runs").await, 2);
    assert_eq!(count(&pool, "commits").await, 2);
    assert_eq!(count(&pool, "benchmarks").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn batch_rejects_invalid_file_alone(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let mut short = plain("b.time_a", 1.0);
    short.outcomes.clear();
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(2, "py3.12", vec![short]),
    ];

    let outcomes = ingest_all(&store, &files).await;

    assert!(
        matches!(outcomes[0], Ok(IngestOutcome::Inserted { values: 1 })),
        "{:?}",
        outcomes[0]
    );
    assert!(
        matches!(outcomes[1], Err(StoreError::InvalidResults { .. })),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(count(&pool, "runs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn batch_with_one_run_twice_keeps_last(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(1, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];

    let outcomes = ingest_all(&store, &files).await;

    assert!(
        matches!(outcomes[0], Ok(IngestOutcome::Inserted { values: 1 })),
        "{:?}",
        outcomes[0]
    );
    assert!(
        matches!(outcomes[1], Ok(IngestOutcome::Replaced { values: 1 })),
        "{:?}",
        outcomes[1]
    );
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results")
        .fetch_all(&pool)
        .await
        .expect("values");
    assert_eq!(values, [2.0]);
}

fn suite_of(names: &[&str]) -> BenchmarkSuite {
    let benchmarks = names
        .iter()
        .map(|name| {
            let info = BenchmarkInfo {
                name: (*name).into(),
                kind: BenchmarkType::Time,
                unit: "seconds".into(),
                params: Vec::new(),
                param_names: Vec::new(),
                version: Some(format!("{name}-v1")),
            };
            ((*name).to_owned(), info)
        })
        .collect();
    BenchmarkSuite { benchmarks }
}

/// Ingests `files` with `Store::ingest_all_or_nothing`, each with a
/// SHA-256 of its own.
async fn ingest_together(
    store: &Store,
    suite: Option<&BenchmarkSuite>,
    files: &[ResultsFile],
) -> Result<Vec<IngestOutcome>, StoreError> {
    let batch: Vec<(&ResultsFile, [u8; 32])> = files
        .iter()
        .enumerate()
        .map(|(index, file)| (file, [index as u8; 32]))
        .collect();
    store.ingest_all_or_nothing(&repo(), suite, &batch, ExistingRuns::Replace).await
}

#[sqlx::test(migrations = "../../migrations")]
async fn all_or_nothing_stores_suite_and_files(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let suite = suite_of(&["b.time_a"]);
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];

    let first = ingest_together(&store, Some(&suite), &files).await.expect("first ingest");
    let again = ingest_together(&store, Some(&suite), &files).await.expect("second ingest");

    assert_eq!(first, [IngestOutcome::Inserted { values: 1 }, IngestOutcome::Inserted { values: 1 }]);
    assert_eq!(again, [IngestOutcome::Unchanged, IngestOutcome::Unchanged]);
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM benchmarks")
        .fetch_one(&pool)
        .await
        .expect("benchmark");
    assert_eq!(kind.as_deref(), Some("time"));
    assert_eq!(count(&pool, "runs").await, 2);
    assert_eq!(count(&pool, "results").await, 2);
}

/// Checks the deliberate failure of the all-or-nothing path: the server
/// rejects the second file mid-way, after the first file's rows were
/// written in the same transaction, and nothing of either file or of the
/// suite remains.
#[sqlx::test(migrations = "../../migrations")]
async fn all_or_nothing_failure_stores_nothing(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let suite = suite_of(&["b.time_a", "b.time_bad"]);
    let mut short = plain("b.time_bad", 2.0);
    short.outcomes.clear();
    let cases = [
        (rejected_by_server("b.time_bad"), "rejected by PostgreSQL"),
        (short, "fewer outcomes than combinations"),
    ];

    for (bad, case) in cases {
        let files = [
            results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
            results_file(2, "py3.12", vec![plain("b.time_a", 2.0), bad]),
        ];

        let outcome = ingest_together(&store, Some(&suite), &files).await;

        assert!(outcome.is_err(), "{case}: {outcome:?}");
        assert_eq!(count(&pool, "runs").await, 0, "{case}");
        assert_eq!(count(&pool, "results").await, 0, "{case}");
        assert_eq!(count(&pool, "commits").await, 0, "{case}");
        assert_eq!(count(&pool, "benchmarks").await, 0, "{case}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn all_or_nothing_with_one_run_twice_keeps_last(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(1, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];

    let outcomes = ingest_together(&store, None, &files).await.expect("ingest");

    assert_eq!(outcomes, [IngestOutcome::Inserted { values: 1 }, IngestOutcome::Replaced { values: 1 }]);
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results")
        .fetch_all(&pool)
        .await
        .expect("values");
    assert_eq!(values, [2.0]);
}

/// Checks that an ingest that keeps existing runs, as a pull request's job
/// does, leaves a stored run's file and a stored benchmark description
/// alone, and still stores new runs and describes new benchmarks.
#[sqlx::test(migrations = "../../migrations")]
async fn keep_leaves_stored_run_alone(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let trusted = results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]);
    store.ingest(&repo(), &trusted, [7; 32]).await.expect("trusted ingest");
    store.upsert_suite(&repo(), &suite_of(&["b.time_a"])).await.expect("trusted suite");
    let mut forged_suite = suite_of(&["b.time_a", "b.time_new"]);
    for info in forged_suite.benchmarks.values_mut() {
        info.unit = "bytes".into();
    }
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 50.0)]),
        results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];
    let batch: Vec<(&ResultsFile, [u8; 32])> = vec![(&files[0], [8; 32]), (&files[1], [9; 32])];

    let outcomes = store
        .ingest_all_or_nothing(&repo(), Some(&forged_suite), &batch, ExistingRuns::Keep)
        .await
        .expect("ingest");

    assert_eq!(outcomes, [IngestOutcome::Kept, IngestOutcome::Inserted { values: 1 }]);
    let units: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, unit FROM benchmarks ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("units");
    assert_eq!(
        units,
        [
            ("b.time_a".to_owned(), Some("seconds".to_owned())),
            ("b.time_new".to_owned(), Some("bytes".to_owned())),
        ],
        "the described benchmark keeps its unit, the new one is described"
    );
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results ORDER BY value")
        .fetch_all(&pool)
        .await
        .expect("values");
    assert_eq!(values, [1.0, 2.0], "the stored run keeps its value");
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT file_sha256 FROM runs ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("hashes");
    assert_eq!(hashes, [vec![7; 32], vec![9; 32]]);
}

/// Checks that a pull request's files cannot rewrite how a shared
/// environment is described, while a trusted ingest still can.
#[sqlx::test(migrations = "../../migrations")]
async fn keep_leaves_environment_description_alone(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let trusted = results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]);
    store.ingest(&repo(), &trusted, [7; 32]).await.expect("trusted ingest");
    let mut forged = results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]);
    forged.python = Some("3.99".into());
    forged.requirements.insert("numpy".into(), "0.0".into());
    let batch: Vec<(&ResultsFile, [u8; 32])> = vec![(&forged, [8; 32])];

    let outcomes = store
        .ingest_all_or_nothing(&repo(), None, &batch, ExistingRuns::Keep)
        .await
        .expect("ingest");

    assert_eq!(outcomes, [IngestOutcome::Inserted { values: 1 }]);
    let described: (Option<String>, serde_json::Value) =
        sqlx::query_as("SELECT python, requirements FROM environments")
            .fetch_one(&pool)
            .await
            .expect("one environment");
    assert_eq!(described.0.as_deref(), Some("3.12"), "the stored Python version stays");
    assert_eq!(described.1, serde_json::json!({}), "the stored requirements stay");
    assert_eq!(count(&pool, "runs").await, 2, "both runs share the environment");

    let batch: Vec<(&ResultsFile, [u8; 32])> = vec![(&forged, [9; 32])];
    store
        .ingest_all_or_nothing(&repo(), None, &batch, ExistingRuns::Replace)
        .await
        .expect("trusted ingest");

    let python: Option<String> = sqlx::query_scalar("SELECT python FROM environments")
        .fetch_one(&pool)
        .await
        .expect("one environment");
    assert_eq!(python.as_deref(), Some("3.99"), "a trusted ingest updates the description");
}

#[sqlx::test(migrations = "../../migrations")]
async fn cache_keeps_only_committed_ids(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let failing = results_file(1, "py3.12", vec![rejected_by_server("b.time_bad")]);
    let stored = results_file(2, "py3.12", vec![plain("b.time_a", 1.0)]);

    store
        .ingest(&repo(), &failing, [1; 32])
        .await
        .expect_err("NUL must be rejected");
    store.ingest(&repo(), &stored, [2; 32]).await.expect("ingest");

    let cache = store.catalog_cache.as_ref().expect("cache enabled");
    let ids = cache.ids();
    assert_eq!(ids.commits.len(), 1, "{:?}", ids.commits);
    assert_eq!(ids.benchmarks.len(), 1, "{:?}", ids.benchmarks);
    assert_eq!(ids.series.len(), 1, "{:?}", ids.series);
}

#[sqlx::test(migrations = "../../migrations")]
async fn cached_environment_still_updates(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let first = results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]);
    let mut second = results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]);
    second.python = Some("3.12.1".into());

    store.ingest(&repo(), &first, [1; 32]).await.expect("first ingest");
    store.ingest(&repo(), &second, [2; 32]).await.expect("second ingest");

    let python: Option<String> = sqlx::query_scalar("SELECT python FROM environments")
        .fetch_one(&pool)
        .await
        .expect("python");
    assert_eq!(python.as_deref(), Some("3.12.1"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn cached_commit_gets_later_date(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).with_catalog_cache();
    let mut undated = results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]);
    undated.date = None;
    let mut dated = results_file(1, "py3.13", vec![plain("b.time_a", 2.0)]);
    dated.date = Some(1_600_000_000_000);

    store.ingest(&repo(), &undated, [1; 32]).await.expect("undated ingest");
    store.ingest(&repo(), &dated, [2; 32]).await.expect("dated ingest");

    let undated_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM results WHERE committed_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(undated_rows, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleting_repository_deletes_its_rows(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let files = [
        results_file(1, "py3.12", vec![plain("b.time_a", 1.0)]),
        results_file(2, "py3.12", vec![plain("b.time_a", 2.0)]),
    ];
    ingest_all(&store, &files).await;

    sqlx::query("DELETE FROM repositories")
        .execute(&pool)
        .await
        .expect("delete");

    assert_eq!(count(&pool, "runs").await, 0);
    assert_eq!(count(&pool, BENCHMARK_ENTRIES).await, 0);
    assert_eq!(count(&pool, "results").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleting_benchmark_deletes_its_rows(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let file = results_file(1, "py3.12", vec![plain("b.time_a", 1.0), plain("b.time_b", 2.0)]);
    store.ingest(&repo(), &file, [1; 32]).await.expect("ingest");

    sqlx::query("DELETE FROM benchmarks WHERE name = 'b.time_a'")
        .execute(&pool)
        .await
        .expect("delete");

    let loaded = store.load_commit(&repo(), "m1", None, &file.commit_hash).await.expect("load");
    let names: Vec<&str> = loaded[0].benchmarks.iter().map(|benchmark| benchmark.name.as_str()).collect();
    assert_eq!(names, ["b.time_b"]);
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results")
        .fetch_all(&pool)
        .await
        .expect("values");
    assert_eq!(values, [2.0]);
}
