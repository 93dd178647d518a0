//! `Store::recent_default_branch_values`: the history that noise
//! thresholds are learnt from.

mod common;

use common::*;
use pitot_asv::Outcome;
use pitot_store::Store;
use sqlx::PgPool;

const DAY_MS: i64 = 86_400_000;

/// Ingests one results file per commit `sha(seed)` for each seed, a day
/// apart, with `bench.time_a` = seed and `bench.time_grid(1)` and `(2)` =
/// 10 * seed and 20 * seed.
async fn ingest_commits(store: &Store, seeds: impl IntoIterator<Item = u64>, machine: &str) {
    for seed in seeds {
        let value = seed as f64;
        let mut file = results_file(
            &sha(seed),
            vec![
                plain("bench.time_a", value),
                parametrized(
                    "bench.time_grid",
                    vec![vec!["1", "2"]],
                    vec![Outcome::Value(10.0 * value), Outcome::Value(20.0 * value)],
                ),
            ],
        );
        file.date = Some(1_700_000_000_000 + seed as i64 * DAY_MS);
        file.machine = machine.to_owned();
        file.machine_params
            .insert("machine".into(), machine.to_owned());
        store
            .ingest(
                &repo("o/r"),
                &file,
                digest((seed % 256) as u8 ^ machine.len() as u8),
            )
            .await
            .expect("ingest");
    }
}

/// Records a pull-request job whose head is `sha(seed)`.
async fn pull_request_head(pool: &PgPool, seed: u64) {
    sqlx::query(
        "INSERT INTO jobs (repository_id, pr_number, head_sha, base_ref, clone_url, attempt_limit)
         SELECT id, 7, $1, 'main', 'https://example.invalid/o/r.git', 3
         FROM repositories WHERE name = 'o/r'",
    )
    .bind(sha(seed))
    .execute(pool)
    .await
    .expect("insert job");
}

fn values(points: &[pitot_store::SeriesPoint]) -> Vec<f64> {
    points
        .iter()
        .filter_map(|point| point.outcome.value())
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn recent_values_of_all_series_in_one_call(pool: PgPool) {
    let store = store(pool.clone());
    ingest_commits(&store, 1..=12, "m1").await;
    ingest_commits(&store, 1..=12, "m2").await;
    pull_request_head(&pool, 11).await;

    let history = store
        .recent_default_branch_values(
            &repo("o/r"),
            "m1",
            "py3.12",
            &sha(11),
            &["bench.time_a".to_owned(), "bench.time_grid".to_owned()],
            4,
        )
        .await
        .expect("history");

    // Base is commit 11, a pull request head itself, so it is left out,
    // and commit 12 is newer than base: the four newest before are 7 to 10.
    let series: Vec<(&str, Vec<String>, Vec<f64>)> = history
        .iter()
        .map(|series| {
            (
                series.benchmark.as_str(),
                series.params.clone(),
                values(&series.points),
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            ("bench.time_a", vec![], vec![7.0, 8.0, 9.0, 10.0]),
            (
                "bench.time_grid",
                vec!["1".to_owned()],
                vec![70.0, 80.0, 90.0, 100.0]
            ),
            (
                "bench.time_grid",
                vec!["2".to_owned()],
                vec![140.0, 160.0, 180.0, 200.0]
            ),
        ]
    );
    assert_eq!(history[0].points[3].commit, sha(10));
}

#[sqlx::test(migrations = "../../migrations")]
async fn recent_values_include_base_and_skip_pull_request_heads(pool: PgPool) {
    let store = store(pool.clone());
    ingest_commits(&store, 1..=6, "m1").await;
    pull_request_head(&pool, 3).await;

    let history = store
        .recent_default_branch_values(
            &repo("o/r"),
            "m1",
            "py3.12",
            &sha(5),
            &["bench.time_a".to_owned()],
            50,
        )
        .await
        .expect("history");

    assert_eq!(history.len(), 1);
    assert_eq!(values(&history[0].points), [1.0, 2.0, 4.0, 5.0]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn recent_values_unknown_inputs_are_empty(pool: PgPool) {
    let store = store(pool.clone());
    ingest_commits(&store, 1..=3, "m1").await;
    let names = ["bench.time_a".to_owned()];
    let cases = [
        ("unknown base commit", "o/r", "m1", "py3.12", sha(99)),
        ("unknown machine", "o/r", "m9", "py3.12", sha(3)),
        ("unknown environment", "o/r", "m1", "py2.7", sha(3)),
        ("unknown repository", "o/other", "m1", "py3.12", sha(3)),
    ];
    for (what, repository, machine, environment, base) in cases {
        let history = store
            .recent_default_branch_values(
                &repo(repository),
                machine,
                environment,
                &base,
                &names,
                50,
            )
            .await
            .expect("history");

        assert!(history.is_empty(), "{what}: {history:?}");
    }
}
