//! Migrations that move or change existing rows, run on a database that
//! contains rows in the layout before them.

mod common;

use std::path::Path;

use common::*;
use pitot_asv::{BenchmarkResult, Outcome, ResultsFile, Stats};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The migration that moves `run_benchmarks` into `runs.benchmarks`.
const MOVE_RUN_BENCHMARKS: i64 = 20261205140000;

/// Rows in the layout before `MOVE_RUN_BENCHMARKS`: one run with a plain
/// benchmark (NaN duration) and a parametrized one, whose second version
/// row is named by the run, and one run of a failed build without
/// benchmarks.
const OLD_LAYOUT_ROWS: &str = r#"
INSERT INTO repositories (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'o/r');
INSERT INTO machines (id, repository_id, name) OVERRIDING SYSTEM VALUE VALUES (1, 1, 'm1');
INSERT INTO environments (id, repository_id, name, python) OVERRIDING SYSTEM VALUE VALUES (1, 1, 'py3.12', '3.12');
INSERT INTO commits (id, repository_id, sha, committed_at) OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2023-11-14 22:13:20+00'),
    (2, 1, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', NULL);
INSERT INTO benchmarks (id, repository_id, name) OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 'b.time_plain'), (2, 1, 'b.time_params');
INSERT INTO benchmark_versions (id, benchmark_id, version) OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 'v-plain'), (2, 2, 'v-old'), (3, 2, 'v-params');
INSERT INTO series (id, benchmark_id, machine_id, environment_id, params) OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 1, 1, '{}'), (2, 2, 1, 1, '{1,''x''}'), (3, 2, 1, 1, '{2,''x''}');
INSERT INTO runs (id, repository_id, machine_id, environment_id, commit_id, schema_version, file_sha256, python)
    OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 1, 1, 1, 2, decode(repeat('01', 32), 'hex'), '3.12'),
    (2, 1, 1, 1, 2, 2, decode(repeat('02', 32), 'hex'), '3.12');
INSERT INTO run_benchmarks (run_id, benchmark_id, params, version_id, started_at, duration) VALUES
    (1, 1, '[]', 1, '2023-11-14 22:13:25.123+00', 'NaN'),
    (1, 2, '[["1", "2"], ["''x''"]]', 3, NULL, 1.5);
INSERT INTO results (run_id, series_id, commit_id, committed_at, value, ci_99_low, ci_99_high,
                     number, repeat, benchmark_id, combination, version_id, outcome, samples) VALUES
    (1, 1, 1, '2023-11-14 22:13:20+00', 0.25, 0.2, 0.3, 1, 10, 1, 0, 1, 'value', '{0.25,0.26}'),
    (1, 2, 1, '2023-11-14 22:13:20+00', 2.0, NULL, NULL, NULL, NULL, 2, 0, 3, 'value', NULL),
    (1, 3, 1, '2023-11-14 22:13:20+00', NULL, NULL, NULL, NULL, NULL, 2, 1, 3, 'failed', NULL);
"#;

/// Applies the migrations older than `version`, through a folder holding
/// copies of their files, so that their checksums match the full set's.
async fn migrate_before(pool: &PgPool, version: i64) {
    let folder = tempfile::tempdir().expect("temporary folder");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    for entry in std::fs::read_dir(&source).expect("list migrations") {
        let path = entry.expect("migration entry").path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
        let older = name
            .split('_')
            .next()
            .and_then(|prefix| prefix.parse::<i64>().ok())
            .is_some_and(|prefix| prefix < version);
        if older {
            std::fs::copy(&path, folder.path().join(&name)).expect("copy migration");
        }
    }
    let migrator = Migrator::new(folder.path()).await.expect("read migrations");
    migrator.run(pool).await.expect("older migrations");
}

fn expected_first_run() -> ResultsFile {
    let plain = BenchmarkResult {
        name: "b.time_plain".into(),
        outcomes: vec![Outcome::Value(0.25)],
        stats: vec![Some(Stats {
            ci_99: Some((0.2, 0.3)),
            number: Some(1.0),
            repeat: Some(10.0),
            ..Stats::default()
        })],
        samples: vec![Some(vec![0.25, 0.26])],
        version: Some("v-plain".into()),
        started_at: Some(1_700_000_005_123),
        // The NaN duration cannot be stored as JSON.
        duration: None,
        ..BenchmarkResult::default()
    };
    let parametrized = BenchmarkResult {
        name: "b.time_params".into(),
        params: vec![vec!["1".into(), "2".into()], vec!["'x'".into()]],
        outcomes: vec![Outcome::Value(2.0), Outcome::Failed],
        version: Some("v-params".into()),
        duration: Some(1.5),
        ..BenchmarkResult::default()
    };
    ResultsFile {
        schema_version: 2,
        machine: "m1".into(),
        env_name: "py3.12".into(),
        commit_hash: "a".repeat(40),
        date: Some(1_700_000_000_000),
        python: Some("3.12".into()),
        // Sorted by name, as `load_commit` returns them.
        benchmarks: vec![parametrized, plain],
        ..ResultsFile::default()
    }
}

#[sqlx::test(migrations = false)]
async fn run_benchmarks_move_into_runs(pool: PgPool) {
    migrate_before(&pool, MOVE_RUN_BENCHMARKS).await;
    sqlx::raw_sql(OLD_LAYOUT_ROWS).execute(&pool).await.expect("rows in the old layout");

    sqlx::migrate!("../../migrations").run(&pool).await.expect("new migrations");

    let store = store(pool.clone());
    let first = store.load_commit(&repo("o/r"), "m1", None, &"a".repeat(40)).await.expect("load first run");
    assert_eq!(first.len(), 1);
    assert_same_file(&first[0], &expected_first_run(), "run with benchmarks");
    let second = store.load_commit(&repo("o/r"), "m1", None, &"b".repeat(40)).await.expect("load second run");
    assert_eq!(second.len(), 1);
    assert!(second[0].benchmarks.is_empty(), "{:?}", second[0].benchmarks);
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('run_benchmarks')::text")
        .fetch_one(&pool)
        .await
        .expect("look up the old table");
    assert_eq!(table, None);
}

/// Deleting a run after the move must still delete its results, through the
/// rewritten trigger.
#[sqlx::test(migrations = false)]
async fn moved_run_deletes_its_results(pool: PgPool) {
    migrate_before(&pool, MOVE_RUN_BENCHMARKS).await;
    sqlx::raw_sql(OLD_LAYOUT_ROWS).execute(&pool).await.expect("rows in the old layout");
    sqlx::migrate!("../../migrations").run(&pool).await.expect("new migrations");

    sqlx::query("DELETE FROM runs WHERE id = 1").execute(&pool).await.expect("delete run");

    assert_eq!(count(&pool, "results").await, 0);
    assert_eq!(count(&pool, BENCHMARK_ENTRIES).await, 0);
}

/// The migration that clears the comment ids and issue numbers stored
/// while a marker matched comments of any author.
const CLEAR_COMMENT_IDS: i64 = 20261210100000;

#[sqlx::test(migrations = false)]
async fn comment_ids_found_by_any_author_are_cleared(pool: PgPool) {
    migrate_before(&pool, CLEAR_COMMENT_IDS).await;
    let rows = r#"
        INSERT INTO repositories (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'o/r');
        INSERT INTO pull_requests (repository_id, number, head_sha, base_ref, comment_id) VALUES
            (1, 17, repeat('a', 40), 'main', 5000000001),
            (1, 18, repeat('b', 40), 'main', NULL);
        INSERT INTO releases (repository_id, tag, clone_url, default_branch, prerelease, comment_id, issue_number)
            VALUES (1, 'v1.0.0', 'https://github.com/o/r.git', 'main', false, 7000000001, 4);
    "#;
    sqlx::raw_sql(rows).execute(&pool).await.expect("rows with stored ids");

    sqlx::migrate!("../../migrations").run(&pool).await.expect("new migrations");

    let comment_ids: Vec<Option<i64>> = sqlx::query_scalar("SELECT comment_id FROM pull_requests ORDER BY number")
        .fetch_all(&pool)
        .await
        .expect("pull requests");
    assert_eq!(comment_ids, [None, None]);
    let release: (Option<i64>, Option<i64>, String) =
        sqlx::query_as("SELECT comment_id, issue_number, tag FROM releases")
            .fetch_one(&pool)
            .await
            .expect("the release");
    assert_eq!(release, (None, None, "v1.0.0".to_owned()));
}
