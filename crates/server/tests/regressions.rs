//! Detected change points through the real router against a real
//! database: detection over stored history, the regressions list, the
//! change points of a series' history and triage with API tokens.
//!
//! The seeded history has one repository, `acme/widgets`, on machine `m1`,
//! with 20 commits, one a day:
//!
//! | benchmark | values, oldest first |
//! |---|---|
//! | `bench.time_sort` (seconds) | 1.0 for 10 commits, then 2.0, ±1% |
//! | `bench.track_rate` (ops/s) | 100 for 12 commits, then 150, ±1% |
//! | `bench.time_flat` (seconds) | 3.0, ±1% |

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_asv::{
    BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile,
};
use pitot_server::api_tokens::ApiScope;
use pitot_server::change_points::detect_in_repository;
use pitot_stats::change_points::ChangePointOptions;
use pitot_store::{RepoName, Store};
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "acme/widgets";
const SORT: &str = "bench.time_sort";
const RATE: &str = "bench.track_rate";
const FLAT: &str = "bench.time_flat";
const COMMITS: u32 = 20;
/// 2023-11-14T22:13:20Z, the date of the first commit.
const FIRST_DATE_MS: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;

/// Returns the sha of commit `n`, counting from 1.
fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// Returns a repeatable noise factor between 0.99 and 1.01 for commit `n`.
fn jitter(n: u32) -> f64 {
    1.0 + f64::from((n * 7) % 5) * 0.005 - 0.01
}

fn results_file(n: u32) -> ResultsFile {
    let value = |level: f64| Outcome::Value(level * jitter(n));
    let benchmark = |name: &str, outcome: Outcome| BenchmarkResult {
        name: name.into(),
        outcomes: vec![outcome],
        version: Some("v1".into()),
        ..BenchmarkResult::default()
    };
    ResultsFile {
        schema_version: 2,
        machine: "m1".into(),
        env_name: "py3.12".into(),
        commit_hash: sha(n),
        date: Some(FIRST_DATE_MS + i64::from(n - 1) * DAY_MS),
        python: Some("3.12".into()),
        benchmarks: vec![
            benchmark(SORT, value(if n <= 10 { 1.0 } else { 2.0 })),
            benchmark(RATE, value(if n <= 12 { 100.0 } else { 150.0 })),
            benchmark(FLAT, value(3.0)),
        ],
        ..ResultsFile::default()
    }
}

fn suite() -> BenchmarkSuite {
    let info = |name: &str, kind: BenchmarkType, unit: &str| {
        (
            name.to_owned(),
            BenchmarkInfo {
                name: name.into(),
                kind,
                unit: unit.into(),
                params: Vec::new(),
                param_names: Vec::new(),
                version: Some("v1".into()),
            },
        )
    };
    BenchmarkSuite {
        benchmarks: [
            info(SORT, BenchmarkType::Time, "seconds"),
            info(RATE, BenchmarkType::Track, "ops/s"),
            info(FLAT, BenchmarkType::Time, "seconds"),
        ]
        .into(),
    }
}

/// Stores the suite and commits `first..=last`.
async fn ingest(app: &TestApp, first: u32, last: u32) {
    let store = Store::from_pool(app.pool.clone());
    let repo: RepoName = REPOSITORY.parse().expect("valid name");
    store
        .upsert_suite(&repo, &suite())
        .await
        .expect("suite stored");
    for n in first..=last {
        store
            .ingest(&repo, &results_file(n), [n as u8; 32])
            .await
            .expect("results stored");
    }
}

async fn detect(app: &TestApp, options: ChangePointOptions) {
    detect_in_repository(&app.pool, REPOSITORY, options)
        .await
        .expect("detection runs");
}

async fn seed(app: &TestApp) {
    ingest(app, 1, COMMITS).await;
    detect(app, ChangePointOptions::default()).await;
}

#[track_caller]
fn json_ok(response: &TestResponse) -> Value {
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

async fn list(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .send_api(
            "GET",
            &format!("/api/v1/repositories/{REPOSITORY}/regressions{query}"),
            None,
            None,
        )
        .await;
    json_ok(&response)["regressions"]
        .as_array()
        .expect("a list of regressions")
        .clone()
}

fn find<'a>(regressions: &'a [Value], benchmark: &str) -> &'a Value {
    regressions
        .iter()
        .find(|regression| regression["benchmark"] == benchmark)
        .unwrap_or_else(|| panic!("no change point of {benchmark} in {regressions:?}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn detection_stores_ranges_and_directions(pool: PgPool) {
    let app = TestApp::new(pool);

    seed(&app).await;

    let regressions = list(&app, "").await;
    assert_eq!(regressions.len(), 2, "{regressions:?}");
    // Newest first: the rate changed at commit 13, the sort at 11.
    assert_eq!(regressions[0]["benchmark"], RATE);
    assert_eq!(regressions[1]["benchmark"], SORT);
    let sort = find(&regressions, SORT);
    assert_eq!(sort["before_commit"], sha(10));
    assert_eq!(sort["after_commit"], sha(11));
    assert_eq!(sort["direction"], "worse");
    assert_eq!(sort["state"], "untriaged");
    assert_eq!(sort["machine"], "m1");
    let ratio = sort["ratio"].as_f64().expect("a ratio");
    assert!((ratio - 2.0).abs() < 0.03, "ratio {ratio}");
    let rate = find(&regressions, RATE);
    assert_eq!(rate["after_commit"], sha(13));
    assert_eq!(rate["direction"], "better", "ops/s is higher-is-better");
}

#[sqlx::test(migrations = "../../migrations")]
async fn list_filters_by_state_and_benchmark(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let of_sort = list(&app, &format!("?benchmark={SORT}")).await;
    let untriaged = list(&app, "?state=untriaged").await;
    let fixed = list(&app, "?state=fixed").await;
    let limited = list(&app, "?limit=1").await;

    assert_eq!(of_sort.len(), 1);
    assert_eq!(of_sort[0]["benchmark"], SORT);
    assert_eq!(untriaged.len(), 2);
    assert!(fixed.is_empty(), "{fixed:?}");
    assert_eq!(limited.len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn list_rejects_bad_filters(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let cases = [
        ("?state=done", StatusCode::BAD_REQUEST, "invalid triage state \"done\": expected one of untriaged, acknowledged, investigating, fixed, wont_fix, false_alarm"),
        ("?limit=0", StatusCode::BAD_REQUEST, "invalid limit 0"),
    ];

    for (query, status, message) in cases {
        let response = app
            .send_api(
                "GET",
                &format!("/api/v1/repositories/{REPOSITORY}/regressions{query}"),
                None,
                None,
            )
            .await;

        assert_eq!(response.status, status, "{query}");
        assert!(
            response.error().contains(message),
            "{query}: {}",
            response.error()
        );
    }
    let unknown = app
        .send_api(
            "GET",
            "/api/v1/repositories/acme/other/regressions",
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../../migrations")]
async fn series_history_carries_change_points_and_releases(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    sqlx::query(
        "INSERT INTO releases (repository_id, tag, clone_url, default_branch, prerelease, sha)
         SELECT id, 'v1.0', 'https://example.invalid/x.git', 'main', false, $1 FROM repositories",
    )
    .bind(sha(15))
    .execute(&app.pool)
    .await
    .expect("release stored");
    let sort = &list(&app, "").await[1];
    let series_id = sort["series_id"].as_i64().expect("a series id");

    let response = app
        .send_api(
            "GET",
            &format!("/api/v1/repositories/{REPOSITORY}/series/{series_id}"),
            None,
            None,
        )
        .await;

    let history = json_ok(&response);
    let change_points = history["change_points"].as_array().expect("a list");
    assert_eq!(change_points.len(), 1, "{change_points:?}");
    assert_eq!(change_points[0]["id"], sort["id"]);
    assert_eq!(change_points[0]["after_commit"], sha(11));
    assert_eq!(change_points[0]["before_commit"], sha(10));
    assert_eq!(change_points[0]["direction"], "worse");
    assert_eq!(
        history["releases"],
        json!([{ "tag": "v1.0", "commit": sha(15) }])
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn triage_sets_state_note_and_author(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let token = app.api_token("octocat", &[ApiScope::Triage]).await;
    let id = find(&list(&app, "").await, SORT)["id"].clone();

    let response = app
        .send_api(
            "PATCH",
            &format!("/api/v1/regressions/{id}"),
            Some(&token),
            Some(&json!({ "state": "investigating", "note": " bisecting #12 " })),
        )
        .await;

    let body = json_ok(&response);
    assert_eq!(body["state"], "investigating");
    assert_eq!(body["note"], "bisecting #12");
    assert_eq!(body["state_changed_by"], "octocat");
    assert!(body["state_changed_at"].is_string(), "{body}");
    let stored = find(&list(&app, "?state=investigating").await, SORT).clone();
    assert_eq!(stored["id"], id);
    assert_eq!(stored["state_changed_by"], "octocat");
}

#[sqlx::test(migrations = "../../migrations")]
async fn triage_rejects_bad_requests(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let triager = app.api_token("octocat", &[ApiScope::Triage]).await;
    let quarantiner = app.api_token("hubot", &[ApiScope::Quarantine]).await;
    let id = find(&list(&app, "").await, SORT)["id"].clone();
    let path = format!("/api/v1/regressions/{id}");
    let good = json!({ "state": "fixed" });
    let cases = [
        (
            None,
            path.clone(),
            json!({ "state": "fixed" }),
            StatusCode::UNAUTHORIZED,
            "missing API token",
        ),
        (
            Some("not-a-token"),
            path.clone(),
            good.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid API token",
        ),
        (
            Some(quarantiner.as_str()),
            path.clone(),
            good.clone(),
            StatusCode::FORBIDDEN,
            "lacks the \"triage\" scope",
        ),
        (
            Some(triager.as_str()),
            path.clone(),
            json!({ "state": "closed" }),
            StatusCode::BAD_REQUEST,
            "expected one of untriaged, acknowledged, investigating, fixed, wont_fix, false_alarm",
        ),
        (
            Some(triager.as_str()),
            path.clone(),
            json!({ "note": "no state" }),
            StatusCode::BAD_REQUEST,
            "invalid triage request",
        ),
        (
            Some(triager.as_str()),
            path.clone(),
            json!({ "state": "fixed", "note": "x".repeat(2_001) }),
            StatusCode::BAD_REQUEST,
            "more than the limit of 2000",
        ),
        (
            Some(triager.as_str()),
            "/api/v1/regressions/abc".to_owned(),
            good.clone(),
            StatusCode::BAD_REQUEST,
            "invalid regression id \"abc\"",
        ),
        (
            Some(triager.as_str()),
            "/api/v1/regressions/999999".to_owned(),
            good.clone(),
            StatusCode::NOT_FOUND,
            "regression 999999 not found",
        ),
    ];

    for (token, path, body, status, message) in cases {
        let response = app.send_api("PATCH", &path, token, Some(&body)).await;

        assert_eq!(response.status, status, "{message}");
        assert!(
            response.error().contains(message),
            "expected {message:?} in {:?}",
            response.error()
        );
    }
    let unchanged = find(&list(&app, "").await, SORT).clone();
    assert_eq!(unchanged["state"], "untriaged");
}

#[sqlx::test(migrations = "../../migrations")]
async fn triage_survives_redetection(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let token = app.api_token("octocat", &[ApiScope::Triage]).await;
    let id = find(&list(&app, "").await, SORT)["id"].clone();
    let response = app
        .send_api(
            "PATCH",
            &format!("/api/v1/regressions/{id}"),
            Some(&token),
            Some(&json!({ "state": "wont_fix", "note": "expected cost of the fix" })),
        )
        .await;
    json_ok(&response);

    ingest(&app, COMMITS + 1, COMMITS + 5).await;
    detect(&app, ChangePointOptions::default()).await;

    assert_eq!(app.count("regressions").await, 2);
    let sort = find(&list(&app, "").await, SORT).clone();
    assert_eq!(sort["id"], id);
    assert_eq!(sort["state"], "wont_fix");
    assert_eq!(sort["note"], "expected cost of the fix");
    assert_eq!(sort["after_commit"], sha(11));
}

#[sqlx::test(migrations = "../../migrations")]
async fn lost_change_point_becomes_stale(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    // A threshold no step in the history reaches.
    detect(
        &app,
        ChangePointOptions {
            min_relative_change: 5.0,
            ..ChangePointOptions::default()
        },
    )
    .await;

    assert!(list(&app, "").await.is_empty());
    let stale = list(&app, "?include_stale=true").await;
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale
        .iter()
        .all(|regression| regression["current"] == false));

    detect(&app, ChangePointOptions::default()).await;

    assert_eq!(list(&app, "").await.len(), 2);
    assert_eq!(app.count("regressions").await, 2);
}
