//! `Store::load_commit`, `load_suite` and `series_history`: what goes in
//! comes out.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use pitot_asv::{BenchmarkInfo, BenchmarkSuite, BenchmarkType, MachineInfo, Outcome};
use pitot_store::{SeriesKey, StoreError};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn load_commit_round_trips_file(pool: PgPool) {
    let store = store(pool);
    let file = results_file(
        &sha(0xabc),
        vec![
            plain("bench.time_plain", 0.25),
            parametrized(
                "bench.time_grid",
                vec![vec!["10", "1", "'z'"], vec!["True", "False"]],
                vec![
                    Outcome::Value(1.0),
                    Outcome::Failed,
                    Outcome::Skipped,
                    Outcome::Value(f64::INFINITY),
                    Outcome::Value(5e-300),
                    Outcome::Value(6.0),
                ],
            ),
        ],
    );
    store.ingest(&repo("o/r"), &file, digest(1)).await.expect("ingest");

    let loaded = store.load_commit(&repo("o/r"), "m1", None, &sha(0xabc)).await.expect("load");

    assert_eq!(loaded.len(), 1);
    assert_same_file(&loaded[0], &normalized(&file), "hand-built file");
}

#[sqlx::test(migrations = "../../migrations")]
async fn load_commit_resolves_prefix_and_environment(pool: PgPool) {
    let store = store(pool);
    let first = results_file(&sha(0xabc), vec![plain("bench.time_a", 1.0)]);
    let mut second = first.clone();
    second.env_name = "py3.13".into();
    store.ingest(&repo("o/r"), &first, digest(1)).await.expect("first ingest");
    store.ingest(&repo("o/r"), &second, digest(2)).await.expect("second ingest");
    let prefix = &sha(0xabc)[..30];

    let both = store.load_commit(&repo("o/r"), "m1", None, prefix).await.expect("load both");
    let one = store.load_commit(&repo("o/r"), "m1", Some("py3.13"), prefix).await.expect("load one");

    let environments: Vec<&str> = both.iter().map(|file| file.env_name.as_str()).collect();
    assert_eq!(environments, ["py3.12", "py3.13"]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].env_name, "py3.13");
}

#[sqlx::test(migrations = "../../migrations")]
async fn load_commit_names_ambiguous_candidates(pool: PgPool) {
    let store = store(pool);
    let first = format!("abcd{}", "1".repeat(36));
    let second = format!("abcd{}", "2".repeat(36));
    for (index, commit) in [&first, &second].into_iter().enumerate() {
        let file = results_file(commit, vec![plain("bench.time_a", 1.0)]);
        store.ingest(&repo("o/r"), &file, digest(index as u8)).await.expect("ingest");
    }

    let error = store.load_commit(&repo("o/r"), "m1", None, "ABCD").await.expect_err("ambiguous");

    match error {
        StoreError::AmbiguousCommit { prefix, candidates } => {
            assert_eq!(prefix, "abcd");
            assert_eq!(candidates, [first, second]);
        }
        other => panic!("expected AmbiguousCommit, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn load_commit_rejects_bad_requests(pool: PgPool) {
    let store = store(pool);
    let file = results_file(&sha(0xabc), vec![plain("bench.time_a", 1.0)]);
    store.ingest(&repo("o/r"), &file, digest(1)).await.expect("ingest");
    let cases = [
        ("o/r", "m1", None, "ab", "invalid commit", "prefix of 2 digits"),
        ("o/r", "m1", None, "xyz1", "invalid commit", "not hexadecimal"),
        ("o/other", "m1", None, "0000", "repository not found", "unknown repository"),
        ("o/r", "m1", None, "ffff", "commit not found", "unknown commit"),
        ("o/r", "m2", None, "0000", "run not found", "unknown machine"),
        ("o/r", "m1", Some("py2.7"), "0000", "in environment py2.7", "unknown environment"),
    ];

    for (repository, machine, env, commit, expected, case) in cases {
        let result = store.load_commit(&repo(repository), machine, env, commit).await;

        let message = result.expect_err(case).to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn suite_round_trips_and_updates(pool: PgPool) {
    let store = store(pool);
    let mut suite = BenchmarkSuite::default();
    for info in [
        suite_entry("bench.time_a", BenchmarkType::Time, "seconds", vec![]),
        suite_entry("bench.peakmem_b", BenchmarkType::PeakMemory, "bytes", vec![("n", vec!["1", "10"]), ("kind", vec!["'a'"])]),
        suite_entry("bench.track_c", BenchmarkType::Other("custom".into()), "speedup", vec![]),
    ] {
        suite.benchmarks.insert(info.name.clone(), info);
    }
    store.upsert_suite(&repo("o/r"), &suite).await.expect("first upsert");
    suite.benchmarks.get_mut("bench.time_a").expect("entry").unit = "ms".into();

    store.upsert_suite(&repo("o/r"), &suite).await.expect("second upsert");
    let loaded = store.load_suite(&repo("o/r")).await.expect("load");

    assert_eq!(loaded, suite);
}

#[sqlx::test(migrations = "../../migrations")]
async fn benchmark_missing_from_suite_has_unknown_type(pool: PgPool) {
    let store = store(pool.clone());
    let mut suite = BenchmarkSuite::default();
    let listed = suite_entry("bench.time_listed", BenchmarkType::Time, "seconds", vec![]);
    suite.benchmarks.insert(listed.name.clone(), listed);
    store.upsert_suite(&repo("o/r"), &suite).await.expect("upsert suite");
    let file = results_file(&sha(1), vec![plain("bench.time_listed", 1.0), plain("bench.time_removed", 2.0)]);

    store.ingest(&repo("o/r"), &file, digest(1)).await.expect("ingest");

    let unknown: Vec<String> = sqlx::query_scalar("SELECT name FROM benchmarks WHERE kind IS NULL AND unit IS NULL")
        .fetch_all(&pool)
        .await
        .expect("query");
    assert_eq!(unknown, ["bench.time_removed"]);
    let loaded = store.load_suite(&repo("o/r")).await.expect("load");
    assert_eq!(loaded, suite);
}

#[sqlx::test(migrations = "../../migrations")]
async fn machine_upsert_replaces_info(pool: PgPool) {
    let store = store(pool.clone());
    let mut machine = MachineInfo {
        machine: "m1".into(),
        fields: [("ram".to_string(), "16GB".to_string())].into(),
    };
    store.upsert_machine(&repo("o/r"), &machine).await.expect("first upsert");
    machine.fields.insert("ram".into(), "8.2G".into());

    store.upsert_machine(&repo("o/r"), &machine).await.expect("second upsert");

    let info: serde_json::Value = sqlx::query_scalar("SELECT info FROM machines WHERE name = 'm1'")
        .fetch_one(&pool)
        .await
        .expect("machine row");
    assert_eq!(info, serde_json::json!({"ram": "8.2G"}));
}

#[sqlx::test(migrations = "../../migrations")]
async fn series_follows_values_when_params_change(pool: PgPool) {
    let store = store(pool);
    let old = results_file(
        &sha(1),
        vec![parametrized("bench.time_p", vec![vec!["1", "2"]], vec![Outcome::Value(1.0), Outcome::Value(2.0)])],
    );
    // The newer run drops "1" and adds "3", so "2" moves from the second
    // combination to the first.
    let mut new = results_file(
        &sha(2),
        vec![parametrized("bench.time_p", vec![vec!["2", "3"]], vec![Outcome::Value(20.0), Outcome::Skipped])],
    );
    new.date = Some(1_800_000_000_000);
    new.benchmarks[0].version = Some("bench.time_p-v2".into());
    store.ingest(&repo("o/r"), &new, digest(2)).await.expect("ingest new");
    store.ingest(&repo("o/r"), &old, digest(1)).await.expect("ingest old");
    let key = SeriesKey {
        benchmark: "bench.time_p".into(),
        params: vec!["2".into()],
        machine: "m1".into(),
        environment: "py3.12".into(),
    };

    let history = store.series_history(&repo("o/r"), &key).await.expect("history");

    let points: Vec<(&str, Outcome, Option<&str>)> = history
        .iter()
        .map(|point| (point.commit.as_str(), point.outcome, point.version.as_deref()))
        .collect();
    assert_eq!(
        points,
        [
            (sha(1).as_str(), Outcome::Value(2.0), Some("bench.time_p-v1")),
            (sha(2).as_str(), Outcome::Value(20.0), Some("bench.time_p-v2")),
        ]
    );
    assert_eq!(history[0].ci_99, Some((2.0 * 0.9, 2.0 * 1.1)));
}

#[sqlx::test(migrations = "../../migrations")]
async fn series_history_of_unknown_series_is_not_found(pool: PgPool) {
    let store = store(pool);
    let file = results_file(&sha(1), vec![plain("bench.time_a", 1.0)]);
    store.ingest(&repo("o/r"), &file, digest(1)).await.expect("ingest");
    let key = SeriesKey {
        benchmark: "bench.time_a".into(),
        params: vec!["1".into()],
        machine: "m1".into(),
        environment: "py3.12".into(),
    };

    let error = store.series_history(&repo("o/r"), &key).await.expect_err("no such combination");

    assert!(matches!(error, StoreError::NotFound { what: "series", .. }), "{error:?}");
}

/// Every results file kept as a fixture for the parser: real asv output with
/// NaN, infinities, failed builds, schema 1 and 2 and `PosixPath` params.
#[sqlx::test(migrations = "../../migrations")]
async fn fixture_files_round_trip(pool: PgPool) {
    let store = store(pool);
    let files = fixture_results_files();
    assert!(files.len() >= 10, "found only {} fixture files", files.len());

    for path in files {
        let bytes = std::fs::read(&path).expect("read fixture");
        let Ok(file) = pitot_asv::parse_results(&bytes) else {
            continue; // asv skips these too; the parser's own tests cover them.
        };
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        // Each fixture goes into its own repository, because two fixtures may
        // share a machine, environment and commit.
        let repository = repo(&format!("fixture/{}", path.file_stem().and_then(|s| s.to_str()).unwrap_or("x").replace(['+', ' '], "_")));

        store.ingest(&repository, &file, digest).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let loaded = store
            .load_commit(&repository, &file.machine, Some(&file.env_name), &file.commit_hash)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));

        assert_eq!(loaded.len(), 1, "{}", path.display());
        assert_same_file(&loaded[0], &normalized(&file), &path.display().to_string());
    }
}

fn suite_entry(name: &str, kind: BenchmarkType, unit: &str, params: Vec<(&str, Vec<&str>)>) -> BenchmarkInfo {
    BenchmarkInfo {
        name: name.into(),
        kind,
        unit: unit.into(),
        param_names: params.iter().map(|(name, _)| (*name).to_owned()).collect(),
        params: params
            .into_iter()
            .map(|(_, values)| values.into_iter().map(String::from).collect())
            .collect(),
        version: Some(format!("{name}-v1")),
    }
}

/// Returns the results files under `tests/fixtures/asv` at the workspace top.
fn fixture_results_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/asv");
    let mut found = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                folders.push(path);
            } else if pitot_asv::folder::is_results_file_name(&name) && !name.starts_with("asv.conf") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
