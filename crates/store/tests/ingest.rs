//! `Store::ingest`: one transaction per results file, idempotent, atomic.

mod common;

use common::*;
use pitot_asv::Outcome;
use pitot_store::{IngestOutcome, StoreError};
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn new_file_inserts_run_and_values(pool: PgPool) {
    let store = store(pool.clone());
    let file = results_file(
        &sha(1),
        vec![
            plain("bench.time_a", 1.0),
            parametrized("bench.time_b", vec![vec!["1", "2"], vec!["'x'"]], vec![Outcome::Value(2.0), Outcome::Failed]),
        ],
    );

    let outcome = store.ingest(&repo("o/r"), &file, digest(1)).await.expect("ingest");

    assert_eq!(outcome, IngestOutcome::Inserted { values: 3 });
    assert_eq!(count(&pool, "runs").await, 1);
    assert_eq!(count(&pool, BENCHMARK_ENTRIES).await, 2);
    assert_eq!(count(&pool, "results").await, 3);
    assert_eq!(count(&pool, "series").await, 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn same_file_twice_is_unchanged(pool: PgPool) {
    let store = store(pool.clone());
    let file = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    store.ingest(&repo("o/r"), &file, digest(1)).await.expect("first ingest");

    let outcome = store.ingest(&repo("o/r"), &file, digest(1)).await.expect("second ingest");

    assert_eq!(outcome, IngestOutcome::Unchanged);
    assert_eq!(count(&pool, "runs").await, 1);
    assert_eq!(count(&pool, "results").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn repository_name_matches_without_case(pool: PgPool) {
    let store = store(pool.clone());
    let file = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    store.ingest(&repo("Django/Django"), &file, digest(1)).await.expect("first ingest");

    let outcome = store.ingest(&repo("django/django"), &file, digest(1)).await.expect("second ingest");

    assert_eq!(outcome, IngestOutcome::Unchanged);
    assert_eq!(count(&pool, "repositories").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn changed_file_replaces_run(pool: PgPool) {
    let store = store(pool.clone());
    let old = results_file(&sha(1), vec![plain("bench.time_a", 1.0), plain("bench.time_old", 5.0)]);
    store.ingest(&repo("o/r"), &old, digest(1)).await.expect("first ingest");
    let new = results_file(&sha(1), vec![plain("bench.time_a", 2.0)]);

    let outcome = store.ingest(&repo("o/r"), &new, digest(2)).await.expect("second ingest");

    assert_eq!(outcome, IngestOutcome::Replaced { values: 1 });
    assert_eq!(count(&pool, "runs").await, 1);
    assert_eq!(count(&pool, BENCHMARK_ENTRIES).await, 1);
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results").fetch_all(&pool).await.expect("values");
    assert_eq!(values, vec![2.0]);
    let stored_digest: Vec<u8> = sqlx::query_scalar("SELECT file_sha256 FROM runs").fetch_one(&pool).await.expect("digest");
    assert_eq!(stored_digest, digest(2));
}

#[sqlx::test(migrations = "../../migrations")]
async fn other_environment_is_another_run(pool: PgPool) {
    let store = store(pool.clone());
    let first = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    let mut second = first.clone();
    second.env_name = "py3.13".into();
    store.ingest(&repo("o/r"), &first, digest(1)).await.expect("first ingest");

    let outcome = store.ingest(&repo("o/r"), &second, digest(2)).await.expect("second ingest");

    assert_eq!(outcome, IngestOutcome::Inserted { values: 1 });
    assert_eq!(count(&pool, "runs").await, 2);
    assert_eq!(count(&pool, "series").await, 2);
    assert_eq!(count(&pool, "commits").await, 1);
}

/// The deliberate failure on the ingest path: Postgres rejects a NUL byte in
/// text, and the parameter values are written after the run, commit,
/// machine, environment and benchmark rows, so the error strikes mid-way.
#[sqlx::test(migrations = "../../migrations")]
async fn failure_mid_way_leaves_no_rows(pool: PgPool) {
    let store = store(pool.clone());
    let file = results_file(
        &sha(1),
        vec![
            plain("bench.time_a", 1.0),
            parametrized("bench.time_b", vec![vec!["'ok'", "'bad\0'"]], vec![Outcome::Value(1.0), Outcome::Value(2.0)]),
        ],
    );

    let error = store.ingest(&repo("o/r"), &file, digest(1)).await.expect_err("NUL must be rejected");

    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    for table in [
        "repositories",
        "machines",
        "environments",
        "commits",
        "benchmarks",
        "benchmark_versions",
        "series",
        "runs",
        "results",
    ] {
        assert_eq!(count(&pool, table).await, 0, "rows left in {table}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn failed_replacement_keeps_old_run(pool: PgPool) {
    let store = store(pool.clone());
    let old = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    store.ingest(&repo("o/r"), &old, digest(1)).await.expect("first ingest");
    let broken = results_file(&sha(1), vec![plain("bench.time_a", 2.0), plain("bench.time_\0", 3.0)]);

    let result = store.ingest(&repo("o/r"), &broken, digest(2)).await;

    assert!(result.is_err(), "{result:?}");
    let values: Vec<f64> = sqlx::query_scalar("SELECT value FROM results").fetch_all(&pool).await.expect("values");
    assert_eq!(values, vec![1.0]);
    let stored_digest: Vec<u8> = sqlx::query_scalar("SELECT file_sha256 FROM runs").fetch_one(&pool).await.expect("digest");
    assert_eq!(stored_digest, digest(1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn rejects_invalid_files_before_writing(pool: PgPool) {
    let store = store(pool.clone());
    let mut short = plain("bench.time_a", 1.0);
    short.outcomes.clear();
    let cases = [
        (results_file("abc", vec![plain("bench.time_a", 1.0)]), "invalid commit", "short commit hash"),
        (results_file(&"z".repeat(40), vec![plain("bench.time_a", 1.0)]), "invalid commit", "non-hex commit hash"),
        (results_file(&sha(1), vec![short]), "0 outcomes for 1 parameter combinations", "missing outcome"),
    ];

    for (file, expected, case) in cases {
        let error = store.ingest(&repo("o/r"), &file, digest(1)).await.expect_err(case);

        assert!(error.to_string().contains(expected), "{case}: {error}");
    }
    assert_eq!(count(&pool, "repositories").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_ingests_of_one_file_store_it_once(pool: PgPool) {
    let store = store(pool.clone());
    let file = results_file(&sha(1), vec![plain("bench.time_a", 1.0), plain("bench.time_b", 2.0)]);
    let repository = repo("o/r");

    let (first, second) = tokio::join!(
        store.ingest(&repository, &file, digest(1)),
        store.ingest(&repository, &file, digest(1)),
    );

    let mut outcomes = [first.expect("first ingest"), second.expect("second ingest")];
    outcomes.sort_by_key(|outcome| matches!(outcome, IngestOutcome::Unchanged));
    assert_eq!(outcomes, [IngestOutcome::Inserted { values: 2 }, IngestOutcome::Unchanged]);
    assert_eq!(count(&pool, "results").await, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_ingests_share_new_series(pool: PgPool) {
    let store = store(pool.clone());
    let files: Vec<_> = (1..=6)
        .map(|seed| results_file(&sha(seed), vec![plain("bench.time_b", 2.0), plain("bench.time_a", 1.0)]))
        .collect();

    let mut tasks = tokio::task::JoinSet::new();
    for (index, file) in files.into_iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move { store.ingest(&repo("o/r"), &file, digest(index as u8)).await });
    }
    let outcomes = tasks.join_all().await;

    for outcome in outcomes {
        assert_eq!(outcome.expect("ingest"), IngestOutcome::Inserted { values: 2 });
    }
    assert_eq!(count(&pool, "series").await, 2);
    assert_eq!(count(&pool, "results").await, 12);
}

#[sqlx::test(migrations = "../../migrations")]
async fn commit_date_arriving_later_reaches_results(pool: PgPool) {
    let store = store(pool.clone());
    let mut undated = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    undated.date = None;
    let mut dated = undated.clone();
    dated.env_name = "py3.13".into();
    dated.date = Some(1_600_000_000_000);
    store.ingest(&repo("o/r"), &undated, digest(1)).await.expect("undated ingest");

    store.ingest(&repo("o/r"), &dated, digest(2)).await.expect("dated ingest");

    let undated_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM results WHERE committed_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(undated_rows, 0);
}
