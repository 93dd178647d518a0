//! Builders and assertions shared by the store's integration tests.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use pitot_asv::{BenchmarkResult, Outcome, ResultsFile, Stats};
use pitot_store::{RepoName, Store};
use sqlx::PgPool;

/// Returns a store on the test's database.
pub fn store(pool: PgPool) -> Store {
    Store::from_pool(pool)
}

#[track_caller]
pub fn repo(name: &str) -> RepoName {
    name.parse().expect("valid repository name in test")
}

/// A full 40-digit commit hash made from `seed`.
pub fn sha(seed: u64) -> String {
    format!("{seed:040x}")
}

/// A SHA-256 stand-in: tests only need distinct and equal values.
pub fn digest(seed: u8) -> [u8; 32] {
    [seed; 32]
}

/// A results file for `commit` on machine `m1` in environment `py3.12`.
pub fn results_file(commit: &str, benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
    ResultsFile {
        schema_version: 2,
        machine: "m1".into(),
        env_name: "py3.12".into(),
        commit_hash: commit.into(),
        date: Some(1_700_000_000_000),
        python: Some("3.12".into()),
        requirements: [("numpy".to_string(), "1.26".to_string())].into(),
        env_vars: [("OMP_NUM_THREADS".to_string(), "1".to_string())].into(),
        machine_params: [("machine".to_string(), "m1".to_string()), ("cpu".to_string(), "x86".to_string())].into(),
        durations: [("<build>".to_string(), 12.5)].into(),
        benchmarks,
    }
}

/// A benchmark without parameters that measured `value`.
pub fn plain(name: &str, value: f64) -> BenchmarkResult {
    BenchmarkResult {
        name: name.into(),
        outcomes: vec![Outcome::Value(value)],
        version: Some(format!("{name}-v1")),
        started_at: Some(1_700_000_100_000),
        duration: Some(1.5),
        ..BenchmarkResult::default()
    }
}

/// A parametrized benchmark over `params` with one outcome per combination,
/// full statistics on measured ones and samples on the first combination.
pub fn parametrized(name: &str, params: Vec<Vec<&str>>, outcomes: Vec<Outcome>) -> BenchmarkResult {
    let params: Vec<Vec<String>> = params
        .into_iter()
        .map(|values| values.into_iter().map(String::from).collect())
        .collect();
    let stats = outcomes
        .iter()
        .map(|outcome| {
            outcome.value().map(|v| Stats {
                ci_99: Some((v * 0.9, v * 1.1)),
                q_25: Some(v * 0.95),
                q_75: Some(v * 1.05),
                number: Some(100.0),
                repeat: Some(10.0),
            })
        })
        .collect();
    let samples = (0..outcomes.len())
        .map(|index| (index == 0).then(|| vec![1.0e-7, 2.5e-7, f64::MIN_POSITIVE, 3.0]))
        .collect();
    BenchmarkResult {
        name: name.into(),
        params,
        outcomes,
        stats,
        samples,
        version: Some(format!("{name}-v1")),
        started_at: Some(1_700_000_200_000),
        duration: Some(4.25),
    }
}

/// Returns `file` in the form `Store::load_commit` rebuilds: benchmarks
/// sorted by name, statistics without any field read as absent, and stats
/// or samples lists that hold only `None` emptied.
pub fn normalized(file: &ResultsFile) -> ResultsFile {
    let mut file = file.clone();
    file.benchmarks.sort_by(|a, b| a.name.cmp(&b.name));
    file.durations.retain(|_, seconds| seconds.is_finite());
    for benchmark in &mut file.benchmarks {
        for stats in &mut benchmark.stats {
            if *stats == Some(Stats::default()) {
                *stats = None;
            }
        }
        if benchmark.stats.iter().all(Option::is_none) {
            benchmark.stats.clear();
        }
        if benchmark.samples.iter().all(Option::is_none) {
            benchmark.samples.clear();
        }
    }
    file
}

/// Returns the number of rows in `table`.
/// The `FROM` list for [`count`] whose rows are the benchmark entries of all
/// runs (`runs.benchmarks`), one per benchmark and results file.
pub const BENCHMARK_ENTRIES: &str = "runs, jsonb_array_elements(runs.benchmarks) AS entry";

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    // The table name comes from the test itself, never from input.
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count rows")
}

/// Asserts two results files are equal, treating NaN as equal to NaN (a
/// plain `==` would report a NaN sample as a difference). Compares the
/// header and then each benchmark, so a failure names the benchmark.
#[track_caller]
pub fn assert_same_file(actual: &ResultsFile, expected: &ResultsFile, context: &str) {
    let header = |file: &ResultsFile| format!("{:?}", ResultsFile { benchmarks: Vec::new(), ..file.clone() });
    assert_eq!(header(actual), header(expected), "{context}: header");
    let names = |file: &ResultsFile| file.benchmarks.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(actual), names(expected), "{context}: benchmark names");
    for (actual, expected) in actual.benchmarks.iter().zip(&expected.benchmarks) {
        assert_eq!(format!("{actual:?}"), format!("{expected:?}"), "{context}: {}", expected.name);
    }
}
